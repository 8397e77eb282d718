"""Supervision (督导通报): half-yearly town bulletins, the district roll-up, team assessment (考核)
and the rectification ledger (整改问题台帐). Placed last among the domains: it reads them all."""
