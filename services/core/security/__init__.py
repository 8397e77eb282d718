"""The platform's security: principals, roles and permissions, scope clauses, tokens, passwords, PII crypto.

It imports no domain package; accounts (users, grants, logins) live in ``core/accounts``.
"""
