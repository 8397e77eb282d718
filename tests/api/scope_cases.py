"""Every teams/assignments endpoint for the shared scope (BOLA) table.

Each entry is (method, path_template, body_factory_or_None). Placeholders name records
that lie OUTSIDE the caller's scope (e.g. in town B for a town-A caller):
``{institution_id} {steward_id} {person_id} {team_id} {member_id} {backing_id}
{assignment_id} {community_role_id} {pairing_id} {grid_id} {unit_id}``. A body factory
takes the same mapping of ids (strings) and returns the JSON body. Expected answers for
an out-of-scope caller: 404 on reads and on writes by a role that may write somewhere;
lists must not contain the record; 403 for a role that may not write anywhere.
Routes without an id in the path (lists, creates) scope through the ids in the query or body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Body = Callable[[dict[str, str]], dict[str, Any]] | None


def _period_end(_: dict[str, str]) -> dict[str, Any]:
    return {"ends_at": "2030-01-01T00:00:00+00:00"}


def _rename(_: dict[str, str]) -> dict[str, Any]:
    return {"name": "renamed"}


SCOPE_CASES: list[tuple[str, str, Body]] = [
    # institutions and their stewards (teams router)
    ("GET", "/institutions/{institution_id}", None),
    ("PATCH", "/institutions/{institution_id}", _rename),
    ("GET", "/institutions/{institution_id}/stewards", None),
    ("POST", "/institutions/{institution_id}/stewards", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/institution-stewards/{steward_id}", _period_end),
    # people
    ("GET", "/people/{person_id}", None),
    ("PATCH", "/people/{person_id}", _rename),
    # teams, members, backing
    ("GET", "/teams/{team_id}", None),
    ("PATCH", "/teams/{team_id}", _rename),
    ("GET", "/teams/{team_id}/members", None),
    ("POST", "/teams/{team_id}/members", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/team-members/{member_id}", _period_end),
    ("GET", "/teams/{team_id}/backings", None),
    ("PATCH", "/team-backings/{backing_id}", _period_end),
    ("POST", "/teams", lambda ids: {"institution_id": ids["institution_id"], "name": "intruder"}),
    ("POST", "/team-backings", lambda ids: {"backing_team_id": ids["team_id"], "backed_team_id": ids["team_id"]}),
    # responsibility (assignments router)
    ("GET", "/assignments/{assignment_id}", None),
    ("PATCH", "/assignments/{assignment_id}", _period_end),
    ("POST", "/assignments", lambda ids: {"team_id": ids["team_id"], "org_unit_id": ids["grid_id"]}),
    # community roles
    ("GET", "/community-roles/{community_role_id}", None),
    ("PATCH", "/community-roles/{community_role_id}", _period_end),
    (
        "POST",
        "/community-roles",
        lambda ids: {"role": "sentinel", "person_id": ids["person_id"], "org_unit_id": ids["grid_id"]},
    ),
    # pairings
    ("GET", "/pairings/{pairing_id}", None),
    ("PATCH", "/pairings/{pairing_id}", _period_end),
    (
        "POST",
        "/pairings",
        lambda ids: {
            "kind": "member_sentinel",
            "medical_side_id": ids["member_id"],
            "community_role_id": ids["community_role_id"],
        },
    ),
    # queries
    ("GET", "/grids/{grid_id}/responsible", None),
    ("GET", "/coverage-gaps?org_unit_id={unit_id}", None),
    ("GET", "/team-members/{member_id}/sentinels", None),
    ("GET", "/people/{person_id}/roles", None),
]

# Lists: the out-of-scope record must be absent (not an error).
SCOPE_LISTS: list[str] = [
    "/institutions",
    "/people",
    "/teams",
    "/assignments",
    "/community-roles",
    "/pairings",
]
