"""Who sees what of a resident: the one place the identity policy lives.

* Full identity number and phone: team leaders, team members and community stewards
  whose grant covers the resident's grid (they call and visit the resident). Everyone
  else in scope — district administrators, supervisors, auditors, sentinels — sees
  masked values only. Each full read is audited by the service.
* The sentinel view: a caller whose only covering grants are sentinel or grid-leader
  ones sees name, masked ID, address, grid and the tags it reported itself — never
  clinical details (other tags), phone, sex, birth date or household. Filters obey the
  same rule: a sentinel cannot find residents by a tag it did not report.
* The full birth date, next to a masked ID, would leave only a handful of candidates for
  the whole number; roles that see identity masked get the birth year only. Lookup by
  identity number is for the roles that may read identity, and every lookup is audited.
"""

from __future__ import annotations

from services.core.residents.schemas import ResidentView
from services.core.security.principal import Principal
from services.core.security.roles import ROLE_PERMISSIONS, Permission, Role

IDENTITY_ROLES = frozenset({Role.TEAM_LEADER, Role.TEAM_MEMBER, Role.COMMUNITY_STEWARD})
SENTINEL_ROLES = frozenset({Role.SENTINEL, Role.GRID_LEADER})


def may_read_identity(principal: Principal, grid_path: str) -> bool:
    """Whether the caller may read the full ID number and phone of a resident of that grid."""
    return any(g.role in IDENTITY_ROLES and grid_path.startswith(g.org_path) for g in principal.grants)


def view_for(principal: Principal, grid_path: str) -> ResidentView:
    """The care view when any covering read grant is not a sentinel's; the sentinel view otherwise."""
    covering = [
        g.role
        for g in principal.grants
        if grid_path.startswith(g.org_path) and Permission.RESIDENTS_READ in ROLE_PERMISSIONS[g.role]
    ]
    if covering and all(role in SENTINEL_ROLES for role in covering):
        return ResidentView.SENTINEL
    return ResidentView.CARE


def identity_paths(principal: Principal) -> list[str]:
    """Org-unit paths under which the caller may read full identity (and so look residents up by it)."""
    return [g.org_path for g in principal.grants if g.role in IDENTITY_ROLES]


def care_view_paths(principal: Principal) -> list[str]:
    """Paths where the caller reads residents with the care view (a read grant that is not a sentinel's)."""
    return [
        g.org_path
        for g in principal.grants
        if g.role not in SENTINEL_ROLES and Permission.RESIDENTS_READ in ROLE_PERMISSIONS[g.role]
    ]
