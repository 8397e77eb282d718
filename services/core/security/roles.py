"""Roles and what each may do. The one table every authorization decision reads."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"
    AUDITOR = "auditor"
    DISTRICT_COMMISSION = "district_commission"
    TOWN_SUPERVISOR = "town_supervisor"
    INSTITUTION_STEWARD = "institution_steward"
    TEAM_LEADER = "team_leader"
    TEAM_MEMBER = "team_member"
    COMMUNITY_STEWARD = "community_steward"
    GRID_LEADER = "grid_leader"
    SENTINEL = "sentinel"
    SOCIAL_WORKER = "social_worker"
    REFERRAL_DESK = "referral_desk"  # an institution's referral desk (转诊办): its grant names the institution
    HIS_CLIENT = "his_client"


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    AUDIT_READ = "audit:read"
    TEAMS_READ = "teams:read"
    INSTITUTIONS_WRITE = "institutions:write"
    PEOPLE_WRITE = "people:write"
    TEAMS_WRITE = "teams:write"
    ASSIGNMENTS_READ = "assignments:read"
    ASSIGNMENTS_WRITE = "assignments:write"
    RESIDENTS_READ = "residents:read"
    RESIDENTS_WRITE = "residents:write"
    RESIDENTS_IMPORT = "residents:import"
    SIGNINGS_WRITE = "signings:write"
    # The roster .xlsx carries full phone numbers: for those who compile and receive it.
    ROSTER_EXPORT = "roster:export"
    REPORTS_READ = "reports:read"
    REPORTS_SUBMIT = "reports:submit"
    REPORTS_HANDLE = "reports:handle"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"


# Everyone reads the organisation (units, institutions, people, teams, assignments) within
# the subtree of their grants; writes are the district's, except that an institution
# steward manages staff and teams in its grant's org unit — only one institution's when the
# grant names it (role_grant.institution_id). Residents: supervisors read, the care side
# (team, community steward, grid leader, sentinel) reads and writes within its area.
_EVERYONE = frozenset({Permission.ORG_READ, Permission.TEAMS_READ, Permission.ASSIGNMENTS_READ})
_READ = frozenset({Permission.RESIDENTS_READ})
_CARE = frozenset({Permission.RESIDENTS_READ, Permission.RESIDENTS_WRITE})
# Sentinel reports: sentinels and grid leaders submit (and see their own, status only); the
# family doctor team handles them (reports in, follows up, closes); everyone else in scope reads.
# What of a report a reader sees is decided per row in core/reports/access.py.
_REPORTS_READ = frozenset({Permission.REPORTS_READ})
_WHISTLE = frozenset({Permission.REPORTS_READ, Permission.REPORTS_SUBMIT})
_HANDLE = frozenset({Permission.REPORTS_READ, Permission.REPORTS_HANDLE})
# Two-way referral: the two sides (the primary team; the institutions' referral desks and HIS clients)
# read and move referrals; stewards and supervisors read. Which side may do what, and how much of a
# referral a reader sees, is decided per row in core/referrals/access.py. Sentinels see no referrals.
_REFERRALS_READ = frozenset({Permission.REFERRALS_READ})
_REFERRALS = frozenset({Permission.REFERRALS_READ, Permission.REFERRALS_WRITE})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DISTRICT_ADMIN: frozenset(Permission) - {Permission.AUDIT_READ},
    Role.AUDITOR: _EVERYONE | _READ | _REPORTS_READ | _REFERRALS_READ | {Permission.AUDIT_READ, Permission.USERS_READ},
    Role.DISTRICT_COMMISSION: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT},
    Role.TOWN_SUPERVISOR: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT},
    Role.INSTITUTION_STEWARD: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | {Permission.PEOPLE_WRITE, Permission.TEAMS_WRITE, Permission.ROSTER_EXPORT},
    Role.TEAM_LEADER: _EVERYONE
    | _CARE
    | _HANDLE
    | _REFERRALS
    | {Permission.RESIDENTS_IMPORT, Permission.SIGNINGS_WRITE},
    Role.TEAM_MEMBER: _EVERYONE | _CARE | _HANDLE | _REFERRALS | {Permission.SIGNINGS_WRITE},
    Role.COMMUNITY_STEWARD: _EVERYONE | _CARE | _REPORTS_READ,
    Role.GRID_LEADER: _EVERYONE | _CARE | _WHISTLE,
    Role.SENTINEL: _EVERYONE | _CARE | _WHISTLE,
    Role.SOCIAL_WORKER: _EVERYONE,
    # No residents:read: a hospital names its patient by ID number in the referral it sends.
    Role.REFERRAL_DESK: _EVERYONE | _REFERRALS,
    Role.HIS_CLIENT: _EVERYONE | _REFERRALS,
}

# Roles whose grant may name one institution (role_grant.institution_id); a desk's must. A HIS client
# is bound to the institution its grant names (one: see accounts.users.add_grant); without one it
# sees and sends no referrals.
INSTITUTION_ROLES = frozenset({Role.INSTITUTION_STEWARD, Role.REFERRAL_DESK, Role.HIS_CLIENT})
INSTITUTION_REQUIRED = frozenset({Role.REFERRAL_DESK})

# Roles a system (client-credentials) account may hold; people may hold the others.
SYSTEM_ROLES = frozenset({Role.HIS_CLIENT})
