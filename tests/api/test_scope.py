"""The scope (BOLA) table: a caller scoped to town A can neither list, read nor change town B.

Every endpoint joins this table the day it is born: ``test_every_route_is_in_the_scope_table``
fails when a route is neither here nor on the public or self-only lists. Path templates name
records of town B through the ``ids`` that ``build_world`` returns; body factories take the
same mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.app import PUBLIC_PATHS, create_app
from services.core.assignments.models import Pairing
from services.core.config import Settings
from services.core.security.models import RoleGrant
from services.core.security.roles import Role
from services.core.teams.models import InstitutionSteward, TeamBacking
from tests.factories import (
    auth_headers,
    make_assignment,
    make_child,
    make_community_role,
    make_district,
    make_institution,
    make_member,
    make_staff,
    make_team,
    make_user,
)

Ids = dict[str, str]
Body = Callable[[Ids], dict[str, Any]] | None

# Routes that only ever act on the caller itself.
# The inbox is always the caller's own; tests/api/test_inbox.py shows A cannot read or mark B's items.
SELF_ONLY = {
    ("GET", "/me"),
    ("POST", "/oauth/logout"),
    ("GET", "/inbox"),
    ("GET", "/inbox/changes"),
    ("POST", "/inbox/read-all"),
    ("POST", "/inbox/{notification_id}/read"),
}


def _period_end(_: Ids) -> dict[str, Any]:
    return {"ends_at": "2030-01-01T00:00:00+00:00"}


def _rename(_: Ids) -> dict[str, Any]:
    return {"name": "renamed"}


CASES: list[tuple[str, str, Body]] = [
    # org units and accounts
    ("GET", "/org-units/{town_b}", None),
    ("GET", "/org-units/{grid_id}", None),
    ("PATCH", "/org-units/{village_b}", _rename),
    (
        "POST",
        "/org-units",
        lambda ids: {"parent_id": ids["village_b"], "code": ids["village_b_code"] + "777", "name": "越权网格"},
    ),
    ("GET", "/users/{user_b}", None),
    ("PATCH", "/users/{user_b}", lambda _: {"display_name": "被改名"}),
    (
        "POST",
        "/users",
        lambda ids: {
            "username": "intruder",
            "display_name": "x",
            "secret": "long-enough-secret",
            "org_unit_id": ids["town_b"],
        },
    ),
    ("POST", "/users/{user_b}/grants", lambda ids: {"role": "sentinel", "org_unit_id": ids["grid_id"]}),
    ("POST", "/users/{user_b}/grants/{grant_b}/end", None),
    # institutions and their stewards
    ("GET", "/institutions/{institution_id}", None),
    ("PATCH", "/institutions/{institution_id}", _rename),
    ("GET", "/institutions/{institution_id}/stewards", None),
    ("POST", "/institutions/{institution_id}/stewards", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/institution-stewards/{steward_id}", _period_end),
    # people
    ("GET", "/people/{person_id}", None),
    ("PATCH", "/people/{person_id}", _rename),
    ("GET", "/people/{person_id}/roles", None),
    # teams, members, backing
    ("GET", "/teams/{team_id}", None),
    ("PATCH", "/teams/{team_id}", _rename),
    ("GET", "/teams/{team_id}/members", None),
    ("POST", "/teams/{team_id}/members", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/team-members/{member_id}", _period_end),
    ("GET", "/teams/{team_id}/backings", None),
    ("PATCH", "/team-backings/{backing_id}", _period_end),
    ("POST", "/teams", lambda ids: {"institution_id": ids["institution_id"], "name": "intruder"}),
    ("POST", "/team-backings", lambda ids: {"backing_team_id": ids["upper_team_id"], "backed_team_id": ids["team_id"]}),
    # responsibility, community roles, pairings
    ("GET", "/assignments/{assignment_id}", None),
    ("PATCH", "/assignments/{assignment_id}", _period_end),
    ("POST", "/assignments", lambda ids: {"team_id": ids["team_id"], "org_unit_id": ids["grid_id"]}),
    ("GET", "/community-roles/{community_role_id}", None),
    ("PATCH", "/community-roles/{community_role_id}", _period_end),
    (
        "POST",
        "/community-roles",
        lambda ids: {"role": "sentinel", "person_id": ids["person_id"], "org_unit_id": ids["grid_id"]},
    ),
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
    # questions about an area
    ("GET", "/grids/{grid_id}/responsible", None),
    ("GET", "/coverage-gaps?org_unit_id={town_b}", None),
    ("GET", "/team-members/{member_id}/sentinels", None),
]

# Lists that must not show town B's records (the named ids must be absent).
LIST_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("/org-units?limit=500", ("town_b", "village_b", "grid_id")),
    ("/org-units?limit=500&parent_id={town_b}", ("village_b",)),
    ("/users?limit=500", ("user_b",)),
    ("/institutions?limit=500", ("institution_id",)),
    ("/people?limit=500", ("person_id",)),
    ("/teams?limit=500", ("team_id", "upper_team_id")),
    ("/assignments?limit=500", ("assignment_id",)),
    ("/community-roles?limit=500", ("community_role_id",)),
    ("/pairings?limit=500", ("pairing_id",)),
]


async def build_world(db: AsyncSession) -> Ids:
    """Town A (empty) and town B with one of everything; returns town B's ids."""
    district = await make_district(db)
    town_a = await make_child(db, district, number=1)
    town_b = await make_child(db, district, number=2)
    village_b = await make_child(db, town_b, number=1)
    grid_b = await make_child(db, village_b, number=1)
    user_b = await make_user(db, Role.SENTINEL, grid_b)
    grant_b = await db.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user_b.id))
    institution = await make_institution(db, town_b)
    person = await make_staff(db, institution)
    team = await make_team(db, institution)
    upper = await make_team(db, institution, level="town")
    member = await make_member(db, team, person)
    assignment = await make_assignment(db, team, grid_b)
    sentinel = await make_community_role(db, "sentinel", grid_b)
    common = {"starts_at": assignment.starts_at, "district_id": district.id}
    steward = InstitutionSteward(institution_id=institution.id, person_id=person.id, **common)
    backing = TeamBacking(backing_team_id=upper.id, backed_team_id=team.id, **common)
    pairing = Pairing(
        kind="member_sentinel", team_member_id=member.id, community_role_id=sentinel.id, org_unit_id=grid_b.id, **common
    )
    db.add_all([steward, backing, pairing])
    await db.flush()
    ids = {
        "district": district.id,
        "town_a": town_a.id,
        "town_b": town_b.id,
        "village_b": village_b.id,
        "grid_id": grid_b.id,
        "user_b": user_b.id,
        "grant_b": grant_b,
        "institution_id": institution.id,
        "person_id": person.id,
        "team_id": team.id,
        "upper_team_id": upper.id,
        "member_id": member.id,
        "assignment_id": assignment.id,
        "community_role_id": sentinel.id,
        "steward_id": steward.id,
        "backing_id": backing.id,
        "pairing_id": pairing.id,
    }
    return {name: str(value) for name, value in ids.items()} | {
        "village_b_code": village_b.code,
        "town_b_path": town_b.path,
    }


async def town_b_state(db: AsyncSession, ids: Ids) -> list[Any]:
    """Every row of town B's world with its version, to prove nothing changed."""
    rows = []
    for table in (
        "org_unit",
        "app_user",
        "role_grant",
        "institution",
        "person",
        "team",
        "team_member",
        "team_backing",
        "responsibility",
        "community_role",
        "pairing",
        "institution_steward",
    ):
        rows += (await db.execute(text(f"select * from {table} order by id"))).all()  # noqa: S608 - fixed names
    return rows


# Callers scoped to town A: one who may write there, one who may only read.
CALLERS = [Role.DISTRICT_ADMIN, Role.TOWN_SUPERVISOR]


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]} {c[1]}")
async def test_town_a_caller_cannot_read_or_change_town_b(
    client: httpx.AsyncClient, db: AsyncSession, role: Role, case: tuple[str, str, Body]
) -> None:
    method, template, body = case
    ids = await build_world(db)
    caller = await make_user(db, role, await _unit(db, ids["town_a"]))
    headers = await auth_headers(client, caller) | {"If-Match": '"1"'}
    before = await town_b_state(db, ids)
    response = await client.request(method, template.format(**ids), headers=headers, json=body(ids) if body else None)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    if method == "GET" or role is Role.DISTRICT_ADMIN:
        # A path id outside scope is 404, as if it did not exist; an id in a create's body may also be a 422
        # naming the field ("no such team"), which says no more than 404 would.
        allowed = {404} if method == "GET" or "{" in template.split("?")[0] else {404, 422}
    else:
        allowed = {403}  # a reader may not write anywhere
    assert response.status_code in allowed, response.text
    assert await town_b_state(db, ids) == before


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c[0])
async def test_town_a_lists_never_show_town_b(
    client: httpx.AsyncClient, db: AsyncSession, case: tuple[str, tuple[str, ...]]
) -> None:
    template, hidden = case
    ids = await build_world(db)
    for role in CALLERS:
        caller = await make_user(db, role, await _unit(db, ids["town_a"]))
        response = await client.get(template.format(**ids), headers=await auth_headers(client, caller))
        assert response.status_code == 200, response.text
        shown = {item["id"] for item in response.json()["items"]}
        assert shown.isdisjoint({ids[name] for name in hidden})


async def test_the_same_requests_succeed_for_the_district(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """The control: every read in the table answers 200 for a district-wide administrator."""
    ids = await build_world(db)
    admin = await make_user(db, Role.DISTRICT_ADMIN, await _unit(db, ids["district"]))
    headers = await auth_headers(client, admin)
    for method, template, _ in CASES:
        if method == "GET":
            response = await client.get(template.format(**ids), headers=headers)
            assert response.status_code == 200, (template, response.text)
    for template, hidden in LIST_CASES:
        shown = {item["id"] for item in (await client.get(template.format(**ids), headers=headers)).json()["items"]}
        assert {ids[name] for name in hidden} <= shown, template


async def _unit(db: AsyncSession, unit_id: str) -> Any:
    from services.core.org.models import OrgUnit

    return await db.get(OrgUnit, unit_id)


def test_every_route_is_in_the_scope_table(settings: Settings) -> None:
    app = create_app(settings)
    covered = {(method, _template(path.split("?")[0])) for method, path, _ in CASES}
    covered |= {("GET", _template(path.split("?")[0])) for path, _ in LIST_CASES}
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        for method in route.methods:
            if (method, _template(route.path)) not in covered and (method, route.path) not in SELF_ONLY:
                missing.append((method, route.path))
    assert not missing, f"add these routes to the scope table: {missing}"


def _template(path: str) -> str:
    """``/users/{user_id}/grants/{grant_id}/end`` -> ``/users/{}/grants/{}/end`` for comparison."""
    return re.sub(r"\{[^}]+\}", "{}", path)
