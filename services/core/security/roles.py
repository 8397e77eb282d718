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
    # The full mobile of a staff member or community worker (GET /people/{id}/mobile, audited).
    PEOPLE_READ_MOBILE = "people:read_mobile"
    TEAMS_WRITE = "teams:write"
    ASSIGNMENTS_READ = "assignments:read"
    ASSIGNMENTS_WRITE = "assignments:write"
    RESIDENTS_READ = "residents:read"
    # What of a resident in read scope the caller sees (core/residents/policy.py): the care view
    # (sex, birth year, masked phone, household, every tag, contact notes) and, beyond it, the
    # full identity — identity number, phone and the full birth date, and lookup by identity number.
    RESIDENTS_READ_CARE = "residents:read_care"
    RESIDENTS_READ_IDENTITY = "residents:read_identity"
    RESIDENTS_WRITE = "residents:write"
    RESIDENTS_IMPORT = "residents:import"
    SIGNINGS_WRITE = "signings:write"
    # The roster .xlsx carries full phone numbers: for those who compile and receive it.
    ROSTER_EXPORT = "roster:export"
    # Sentinel reports: ``reports:read`` alone shows the reports the caller submitted (status view);
    # ``reports:read_area`` every report in the unit (status view); ``reports:read_care`` every report in
    # the unit whole (narrowed to one institution's teams when the grant names one);
    # ``reports:read_care_team`` whole, the reports of the teams the caller is an active member of (and
    # unrouted ones, which they may take). Decided per row in core/reports/access.py from these alone.
    REPORTS_READ = "reports:read"
    REPORTS_READ_AREA = "reports:read_area"
    REPORTS_READ_CARE = "reports:read_care"
    REPORTS_READ_CARE_TEAM = "reports:read_care_team"
    REPORTS_SUBMIT = "reports:submit"
    # Submit on any grid of the unit without holding a sentinel role there (grid leaders); without it a
    # submitter must be an active sentinel of the grid (the grant alone is not enough).
    REPORTS_SUBMIT_ANY_GRID = "reports:submit_any_grid"
    REPORTS_HANDLE = "reports:handle"
    # The urgent view of an urgent-risk report (signs, happening now?, police?, where): the village
    # committee acts on it (seed 003 §二(二)2(3)②); never the team's clinical notes. Audited per read.
    REPORTS_READ_URGENT = "reports:read_urgent"
    # Referrals: ``referrals:read`` on a grant naming an institution (a desk, a HIS client, a steward)
    # shows that institution's referrals; otherwise ``referrals:read_area`` every referral of the unit's
    # residents and ``referrals:read_team`` those of the teams the caller is an active member of.
    REFERRALS_READ = "referrals:read"
    REFERRALS_READ_AREA = "referrals:read_area"
    REFERRALS_READ_TEAM = "referrals:read_team"
    REFERRALS_WRITE = "referrals:write"
    # Supervision (督导通报): read bulletins, roll-ups and assessments of the unit; issue a town's bulletin
    # (its supervisor) and correct it; review (the district: acknowledge town bulletins, issue roll-ups and
    # assessments). The rectification ledger: read; write (create, verify 销号, reopen); work an item one
    # owns (start, resolve with evidence).
    SUPERVISION_READ = "supervision:read"
    SUPERVISION_ISSUE = "supervision:issue"
    SUPERVISION_REVIEW = "supervision:review"
    RECTIFICATION_READ = "rectification:read"
    RECTIFICATION_WRITE = "rectification:write"
    RECTIFICATION_WORK = "rectification:work"


# Everyone reads the organisation (units, institutions, people, teams, assignments) within
# the subtree of their grants; writes are the district's, except that an institution
# steward manages staff and teams in its grant's org unit — only one institution's when the
# grant names it (role_grant.institution_id). Residents: supervisors read, the care side
# (team, community steward, grid leader, sentinel) reads and writes within its area.
# Visibility is permission too, never a role test elsewhere:
# * every resident reader sees the care view except sentinels and grid leaders, who see the
#   sentinel view (name, masked ID, address, grid, the tags they reported) — _SENTINEL_CARE;
# * those who call and visit residents (team leaders and members, community stewards) see the
#   full identity: ID number, phone, and the full birth date, which next to a masked ID would leave
#   a handful of candidates for the whole number, so masked roles get the birth year only;
# * those who call staff and community workers (district administrators, institution stewards,
#   team leaders) see their full mobile.
# Signing (and renewing, terminating) is the family doctor team's: signings:write, in its area.
_EVERYONE = frozenset({Permission.ORG_READ, Permission.TEAMS_READ, Permission.ASSIGNMENTS_READ})
_READ = frozenset({Permission.RESIDENTS_READ, Permission.RESIDENTS_READ_CARE})
_SENTINEL_CARE = frozenset({Permission.RESIDENTS_READ, Permission.RESIDENTS_WRITE})
_CARE = _SENTINEL_CARE | {Permission.RESIDENTS_READ_CARE}
_IDENTITY = _CARE | {Permission.RESIDENTS_READ_IDENTITY}
# Sentinel reports: sentinels and grid leaders submit (and see their own, status only); the
# family doctor team handles them (reports in, follows up, closes); everyone else in scope reads.
# What of a report a reader sees is decided per row in core/reports/access.py.
_REPORTS_READ = frozenset({Permission.REPORTS_READ, Permission.REPORTS_READ_CARE})
_WHISTLE = frozenset({Permission.REPORTS_READ, Permission.REPORTS_SUBMIT})
_HANDLE = frozenset({Permission.REPORTS_READ, Permission.REPORTS_READ_CARE_TEAM, Permission.REPORTS_HANDLE})
_AREA_STATUS = frozenset({Permission.REPORTS_READ, Permission.REPORTS_READ_AREA})
# Two-way referral: the two sides (the primary team; the institutions' referral desks and HIS clients)
# read and move referrals; stewards and supervisors read. Which side may do what, and how much of a
# referral a reader sees, is decided per row in core/referrals/access.py. Sentinels see no referrals.
_REFERRALS_READ = frozenset({Permission.REFERRALS_READ, Permission.REFERRALS_READ_AREA})
_REFERRALS = frozenset({Permission.REFERRALS_READ, Permission.REFERRALS_WRITE})
_TEAM_REFERRALS = _REFERRALS | {Permission.REFERRALS_READ_TEAM}

# Supervision: towns issue their bulletins, the district acknowledges them and issues the roll-up and the
# assessment; institution stewards are told and read; the owners of ledger items (team leaders, community
# stewards, stewards) work them, supervisors create and verify them.
_LEDGER = frozenset({Permission.RECTIFICATION_READ, Permission.RECTIFICATION_WORK})
_SUPERVISE = _LEDGER | {Permission.SUPERVISION_READ, Permission.RECTIFICATION_WRITE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Everything but reading the trail it writes and residents' full identity (it does not visit them).
    Role.DISTRICT_ADMIN: frozenset(Permission) - {Permission.AUDIT_READ, Permission.RESIDENTS_READ_IDENTITY},
    Role.AUDITOR: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | {Permission.AUDIT_READ, Permission.USERS_READ, Permission.SUPERVISION_READ, Permission.RECTIFICATION_READ},
    Role.DISTRICT_COMMISSION: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _SUPERVISE
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT, Permission.SUPERVISION_REVIEW},
    Role.TOWN_SUPERVISOR: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _SUPERVISE
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT, Permission.SUPERVISION_ISSUE},
    Role.INSTITUTION_STEWARD: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _LEDGER
    | {Permission.SUPERVISION_READ}
    | {Permission.PEOPLE_WRITE, Permission.PEOPLE_READ_MOBILE, Permission.TEAMS_WRITE, Permission.ROSTER_EXPORT},
    Role.TEAM_LEADER: _EVERYONE
    | _IDENTITY
    | _HANDLE
    | _TEAM_REFERRALS
    | _LEDGER
    | {Permission.RESIDENTS_IMPORT, Permission.SIGNINGS_WRITE, Permission.PEOPLE_READ_MOBILE},
    Role.TEAM_MEMBER: _EVERYONE
    | _IDENTITY
    | _HANDLE
    | _REFERRALS
    | {Permission.REFERRALS_READ_TEAM, Permission.SIGNINGS_WRITE},
    Role.COMMUNITY_STEWARD: _EVERYONE | _IDENTITY | _AREA_STATUS | _LEDGER | {Permission.REPORTS_READ_URGENT},
    Role.GRID_LEADER: _EVERYONE | _SENTINEL_CARE | _WHISTLE | _AREA_STATUS | {Permission.REPORTS_SUBMIT_ANY_GRID},
    Role.SENTINEL: _EVERYONE | _SENTINEL_CARE | _WHISTLE,
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
