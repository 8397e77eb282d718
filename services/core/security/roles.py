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
    SOCIAL_WORKER = "social_worker"  # a social-work department's worker: the grant names the institution
    SOCIAL_WORK_SUPERVISOR = "social_work_supervisor"  # the department's supervisor (督导): names it too
    REFERRAL_DESK = "referral_desk"  # an institution's referral desk (转诊办): its grant names the institution
    HIS_CLIENT = "his_client"
    VOLUNTEER = "volunteer"  # a volunteer's own login: the grant names the institution they serve


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
    # The plan's standing duties (core/duties): read in scope; a team's own members record its work days,
    # an institution's steward its livestreams; stewards hand in the town's yearly roster and summary.
    DUTIES_READ = "duties:read"
    DUTIES_WORK_DAYS = "duties:work_days"
    DUTIES_LIVESTREAMS = "duties:livestreams"
    DUTIES_SUBMIT = "duties:submit"
    # Webhook subscriptions of an institution (URL, event types, secret, deliveries): its HIS client and
    # its steward manage them (a grant naming an institution: that one only); supervisors read them.
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    # Lend staff to a primary institution (县聘乡用, a nursing station joining its teams): the district's.
    POSTINGS_WRITE = "postings:write"
    # Volunteers (core/volunteers): ``volunteers:read`` the department's volunteers, shifts, hours and
    # group sessions; ``volunteers:write`` registers volunteers, offers and schedules shifts, records and
    # verifies hours, records group work (a department's social workers); ``volunteers:submit_hours`` a
    # volunteer's own hours, and reading their own shifts and hours only (core/volunteers/repository.py).
    VOLUNTEERS_READ = "volunteers:read"
    VOLUNTEERS_WRITE = "volunteers:write"
    VOLUNTEERS_SUBMIT_HOURS = "volunteers:submit_hours"
    # Medical social work (core/socialwork). A social worker's or supervisor's grant names the institution
    # whose social-work department they work in (one department per institution), so these are narrowed to
    # it. ``socialwork:read`` is the area view (cases' state, service areas, sources, dates; metrics; aid
    # totals); ``socialwork:read_case`` the whole case but its confidential notes; ``socialwork:write`` opens
    # and works cases; ``socialwork:supervise`` approves or sends back plans and closures;
    # ``socialwork:read_confidential`` is needed, besides being one of the case's social workers or the
    # department's supervisor (per row, core/socialwork/access.py), to read a confidential note.
    # ``socialwork:departments_write`` registers departments; ``socialwork:receive_transfers`` is the
    # community side answering a discharge transfer (their team, their village, their station).
    SOCIALWORK_READ = "socialwork:read"
    SOCIALWORK_READ_CASE = "socialwork:read_case"
    SOCIALWORK_WRITE = "socialwork:write"
    SOCIALWORK_SUPERVISE = "socialwork:supervise"
    SOCIALWORK_READ_CONFIDENTIAL = "socialwork:read_confidential"
    SOCIALWORK_DEPARTMENTS_WRITE = "socialwork:departments_write"
    SOCIALWORK_RECEIVE_TRANSFERS = "socialwork:receive_transfers"
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
# Duties: supervisors read; the team records its work days (membership checked in core/duties).
_DUTIES_READ = frozenset({Permission.DUTIES_READ})
_WORK_DAYS = frozenset({Permission.DUTIES_READ, Permission.DUTIES_WORK_DAYS})
_STEWARD_DUTIES = frozenset({Permission.DUTIES_READ, Permission.DUTIES_LIVESTREAMS, Permission.DUTIES_SUBMIT})
# Webhooks carry referral changes out of the system: the institution's HIS client and steward manage its
# subscriptions; the supervisors of the area (town, commission, auditor) see where they go.
_WEBHOOKS = frozenset({Permission.WEBHOOKS_READ, Permission.WEBHOOKS_MANAGE})

# Medical social work: the department's workers open and work cases; the supervisor also approves; both
# may read confidential notes of the cases that are theirs (per row). Supervision reads the area view.
_SW_READ = frozenset({Permission.SOCIALWORK_READ})
_SW_PRACTICE = frozenset(
    {
        Permission.SOCIALWORK_READ,
        Permission.SOCIALWORK_READ_CASE,
        Permission.SOCIALWORK_WRITE,
        Permission.SOCIALWORK_READ_CONFIDENTIAL,
        Permission.SOCIALWORK_RECEIVE_TRANSFERS,  # a community social-work station is a department too
    }
)
# Volunteers: the department's social workers manage them; supervision and the institution read.
_VOLUNTEERS_READ = frozenset({Permission.VOLUNTEERS_READ})
_VOLUNTEERS = frozenset({Permission.VOLUNTEERS_READ, Permission.VOLUNTEERS_WRITE})

# Supervision: towns issue their bulletins, the district acknowledges them and issues the roll-up and the
# assessment; institution stewards are told and read; the owners of ledger items (team leaders, community
# stewards, stewards) work them, supervisors create and verify them.
_LEDGER = frozenset({Permission.RECTIFICATION_READ, Permission.RECTIFICATION_WORK})
_SUPERVISE = _LEDGER | {Permission.SUPERVISION_READ, Permission.RECTIFICATION_WRITE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Everything but reading the trail it writes and residents' full identity (it does not visit them).
    # Nor social workers' confidential notes.
    Role.DISTRICT_ADMIN: frozenset(Permission)
    - {Permission.AUDIT_READ, Permission.RESIDENTS_READ_IDENTITY, Permission.SOCIALWORK_READ_CONFIDENTIAL},
    Role.AUDITOR: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _DUTIES_READ
    | _SW_READ
    | _VOLUNTEERS_READ
    | {Permission.AUDIT_READ, Permission.USERS_READ, Permission.WEBHOOKS_READ}
    | {Permission.SUPERVISION_READ, Permission.RECTIFICATION_READ},
    Role.DISTRICT_COMMISSION: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _DUTIES_READ
    | _SW_READ
    | _VOLUNTEERS_READ
    | _SUPERVISE
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT, Permission.WEBHOOKS_READ, Permission.SUPERVISION_REVIEW},
    Role.TOWN_SUPERVISOR: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _DUTIES_READ
    | _SW_READ
    | _VOLUNTEERS_READ
    | _SUPERVISE
    | {Permission.USERS_READ, Permission.ROSTER_EXPORT, Permission.WEBHOOKS_READ, Permission.SUPERVISION_ISSUE},
    Role.INSTITUTION_STEWARD: _EVERYONE
    | _READ
    | _REPORTS_READ
    | _REFERRALS_READ
    | _STEWARD_DUTIES
    | _WEBHOOKS
    | _SW_READ
    | _VOLUNTEERS_READ
    | {Permission.SOCIALWORK_DEPARTMENTS_WRITE}
    | _LEDGER
    | {Permission.SUPERVISION_READ}
    | {Permission.PEOPLE_WRITE, Permission.PEOPLE_READ_MOBILE, Permission.TEAMS_WRITE, Permission.ROSTER_EXPORT},
    Role.TEAM_LEADER: _EVERYONE
    | _IDENTITY
    | _HANDLE
    | _TEAM_REFERRALS
    | _WORK_DAYS
    | _LEDGER
    | {Permission.RESIDENTS_IMPORT, Permission.SIGNINGS_WRITE, Permission.PEOPLE_READ_MOBILE}
    | {Permission.SOCIALWORK_RECEIVE_TRANSFERS},
    Role.TEAM_MEMBER: _EVERYONE
    | _IDENTITY
    | _HANDLE
    | _REFERRALS
    | _WORK_DAYS
    | {Permission.REFERRALS_READ_TEAM, Permission.SIGNINGS_WRITE, Permission.SOCIALWORK_RECEIVE_TRANSFERS},
    Role.COMMUNITY_STEWARD: _EVERYONE
    | _IDENTITY
    | _AREA_STATUS
    | _DUTIES_READ
    | _LEDGER
    | {Permission.REPORTS_READ_URGENT, Permission.SOCIALWORK_RECEIVE_TRANSFERS},
    Role.GRID_LEADER: _EVERYONE | _SENTINEL_CARE | _WHISTLE | _AREA_STATUS | {Permission.REPORTS_SUBMIT_ANY_GRID},
    Role.SENTINEL: _EVERYONE | _SENTINEL_CARE | _WHISTLE,
    # No residents:read: like a referral desk, a hospital's social worker names a patient by ID number.
    Role.SOCIAL_WORKER: _EVERYONE | _SW_PRACTICE | _VOLUNTEERS,
    Role.SOCIAL_WORK_SUPERVISOR: _EVERYONE | _SW_PRACTICE | _VOLUNTEERS | {Permission.SOCIALWORK_SUPERVISE},
    # No residents:read: a hospital names its patient by ID number in the referral it sends.
    Role.REFERRAL_DESK: _EVERYONE | _REFERRALS,
    Role.HIS_CLIENT: _EVERYONE | _REFERRALS | _WEBHOOKS,
    # A volunteer submits and reads their own hours and shifts; they read no one's records.
    Role.VOLUNTEER: frozenset({Permission.ORG_READ, Permission.VOLUNTEERS_SUBMIT_HOURS}),
}

# Roles whose grant may name one institution (role_grant.institution_id); a desk's must. A HIS client
# is bound to the institution its grant names (one: see accounts.users.add_grant); without one it
# sees and sends no referrals.
# A social worker's and a supervisor's grant names the institution whose social-work department they
# work in (its org unit is the institution's): that is how they are scoped to the department.
INSTITUTION_ROLES = frozenset(
    {Role.INSTITUTION_STEWARD, Role.REFERRAL_DESK, Role.HIS_CLIENT, Role.SOCIAL_WORKER, Role.SOCIAL_WORK_SUPERVISOR}
    | {Role.VOLUNTEER}
)
INSTITUTION_REQUIRED = frozenset({Role.REFERRAL_DESK, Role.SOCIAL_WORKER, Role.SOCIAL_WORK_SUPERVISOR, Role.VOLUNTEER})

# Roles a system (client-credentials) account may hold; people may hold the others.
SYSTEM_ROLES = frozenset({Role.HIS_CLIENT})
