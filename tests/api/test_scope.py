"""The scope (BOLA) table: a caller scoped to town A can neither list, read nor change town B.

Every endpoint joins this table the day it is born: ``test_every_route_is_in_the_scope_table``
fails when a route is neither here nor on the public or self-only lists.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.app import PUBLIC_PATHS, create_app
from services.core.audit import service as audit
from services.core.config import Settings
from services.core.org.models import OrgUnit
from services.core.residents.models import KeyPopulation, Resident, ResidentTag
from services.core.security.models import RoleGrant, User
from services.core.security.roles import Role
from tests.factories import auth_headers, make_child, make_district, make_resident, make_user, resident_id_number

# Routes that only ever act on the caller itself.
SELF_ONLY = {("GET", "/me"), ("POST", "/oauth/logout")}


@dataclass
class World:
    """Two towns of one district, each with a village, a grid and an account."""

    district: OrgUnit
    town_a: OrgUnit
    town_b: OrgUnit
    village_b: OrgUnit
    grid_b: OrgUnit
    user_b: User
    grant_b: RoleGrant
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    town_b_path: str = ""
    id_number_b: str = ""


@dataclass(frozen=True)
class Case:
    """One request against town B's data; ``body`` builds the JSON from the world."""

    method: str
    path: str
    body: Callable[[World], dict[str, Any]] | None = None
    if_match: bool = False
    files: Callable[[World], dict[str, Any]] | None = None
    # Per-row operations (imports) answer 200 and refuse the row; the snapshot must still not move.
    allowed: tuple[int, ...] = (403, 404)

    def url(self, world: World) -> str:
        return self.path.format(**world.ids)


@dataclass(frozen=True)
class ListCase:
    """A list that must not show town B's records; ``hidden`` names the ids to look for in ``key``."""

    path: str
    hidden: tuple[str, ...]
    method: str = "GET"
    body: Callable[[World], dict[str, Any]] | None = None
    key: str = "id"
    role: Role = Role.TOWN_SUPERVISOR


CASES: list[Case] = [
    Case("GET", "/org-units/{town_b}"),
    Case("GET", "/org-units/{grid_b}"),
    Case("PATCH", "/org-units/{village_b}", lambda _w: {"name": "被改名"}, if_match=True),
    Case(
        "POST",
        "/org-units",
        lambda w: {"parent_id": str(w.village_b.id), "code": w.village_b.code + "777", "name": "越权网格"},
    ),
    Case("GET", "/users/{user_b}"),
    Case("PATCH", "/users/{user_b}", lambda _w: {"display_name": "被改名"}, if_match=True),
    Case(
        "POST",
        "/users",
        lambda w: {
            "username": "intruder",
            "display_name": "x",
            "secret": "long-enough-secret",
            "org_unit_id": str(w.town_b.id),
        },
    ),
    Case("POST", "/users/{user_b}/grants", lambda w: {"role": "sentinel", "org_unit_id": str(w.grid_b.id)}),
    Case("POST", "/users/{user_b}/grants/{grant_b}/end"),
    Case("GET", "/residents/{resident_b}"),
    Case("GET", "/residents/{resident_b}/identity"),
    Case("PATCH", "/residents/{resident_b}", lambda _w: {"name": "被改名"}, if_match=True),
    Case("POST", "/residents", lambda w: {"grid_id": str(w.grid_b.id), "name": "越权", "birth_on": "1990-01-01"}),
    Case(
        "POST",
        "/residents/{resident_b}/tags",
        lambda _w: {"population": "hypertension", "since_on": "2024-01-01", "source": "clinic"},
    ),
    Case("PATCH", "/residents/{resident_b}/tags/{tag_b}", lambda _w: {"until_on": "2025-01-01"}, if_match=True),
    Case(
        "POST",
        "/residents/imports",
        files=lambda w: {
            "file": (
                "r.jsonl",
                json.dumps({"grid_code": w.grid_b.code, "name": "越权导入", "birth_on": "1990-01-01"})
                + "\n"
                + json.dumps({"grid_code": w.grid_b.code, "name": "被改名", "id_number": w.id_number_b}),
                "application/x-ndjson",
            )
        },
        allowed=(200, 403),
    ),
]

LIST_CASES: list[ListCase] = [
    ListCase("/org-units?limit=500", ("town_b", "village_b", "grid_b")),
    ListCase("/org-units?limit=500&parent_id={town_b}", ("village_b",)),
    ListCase("/users?limit=500", ("user_b",)),
    ListCase("/residents?limit=500", ("resident_b",)),
    ListCase("/residents?limit=500&org_unit_id={village_b}", ("resident_b",)),
    ListCase("/residents?limit=500&population=hypertension", ("resident_b",)),
    ListCase("/residents/lookup", ("resident_b",), method="POST", body=lambda w: {"id_number": w.id_number_b}),
    ListCase("/sync/residents?limit=500", ("resident_b",)),
    ListCase("/audit-events?limit=500", ("resident_b", "user_b"), key="subject_id", role=Role.AUDITOR),
]


async def build_world(db: AsyncSession) -> World:
    district = await make_district(db)
    town_a = await make_child(db, district, number=1)
    town_b = await make_child(db, district, number=2)
    village_b = await make_child(db, town_b, number=1)
    grid_b = await make_child(db, village_b, number=1)
    user_b = await make_user(db, Role.SENTINEL, grid_b)
    grant_b = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == user_b.id))
    assert grant_b is not None
    world = World(district, town_a, town_b, village_b, grid_b, user_b, grant_b, town_b_path=town_b.path)
    world.id_number_b = resident_id_number()
    resident_b = await make_resident(
        db, grid_b, id_number=world.id_number_b, tags=(KeyPopulation.HYPERTENSION,), reported_by=user_b.id
    )
    tag_b = await db.scalar(select(ResidentTag.id).where(ResidentTag.resident_id == resident_b.id))
    await audit.record(
        db, actor_id=user_b.id, action="resident.created", subject_type="resident", subject_id=resident_b.id
    )
    world.ids = {
        "town_b": town_b.id,
        "village_b": village_b.id,
        "grid_b": grid_b.id,
        "user_b": user_b.id,
        "grant_b": grant_b.id,
        "resident_b": resident_b.id,
        "tag_b": tag_b,  # type: ignore[dict-item]
    }
    return world


# Callers scoped to town A: one who may write there, one who may only read.
CALLERS = [Role.DISTRICT_ADMIN, Role.TOWN_SUPERVISOR]


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_town_a_caller_cannot_read_or_change_town_b(
    client: httpx.AsyncClient, db: AsyncSession, role: Role, case: Case
) -> None:
    world = await build_world(db)
    caller = await make_user(db, role, world.town_a)
    headers = await auth_headers(client, caller)
    if case.if_match:
        headers["If-Match"] = '"1"'
    before_b = await _snapshot(db, world)
    response = await client.request(
        case.method,
        case.url(world),
        headers=headers,
        json=case.body(world) if case.body else None,
        files=case.files(world) if case.files else None,
    )
    # A writer gets 404 (existence does not leak); a reader without the write permission anywhere gets 403.
    assert response.status_code in case.allowed, response.text
    if response.status_code == 200:
        body = response.json()
        assert body["created"] == body["updated"] == 0, body
        assert str(world.ids["resident_b"]) not in response.text
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
    if role is Role.DISTRICT_ADMIN and case.allowed == (403, 404):
        assert response.status_code == 404, response.text
    assert await _snapshot(db, world) == before_b


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c.path)
async def test_town_a_lists_never_show_town_b(client: httpx.AsyncClient, db: AsyncSession, case: ListCase) -> None:
    world = await build_world(db)
    caller = await make_user(db, case.role, world.town_a)
    await make_resident(db, await make_child(db, await make_child(db, world.town_a, number=3), number=3))
    response = await client.request(
        case.method,
        case.path.format(**world.ids),
        headers=await auth_headers(client, caller),
        json=case.body(world) if case.body else None,
    )
    assert response.status_code == 200, response.text
    shown = {item[case.key] for item in response.json()["items"]}
    assert shown.isdisjoint({str(world.ids[name]) for name in case.hidden})


async def test_district_admin_sees_both_towns(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """The control: the same requests succeed for a district-wide administrator."""
    world = await build_world(db)
    admin = await make_user(db, Role.DISTRICT_ADMIN, world.district)
    headers = await auth_headers(client, admin)
    assert (await client.get(f"/org-units/{world.grid_b.id}", headers=headers)).status_code == 200
    assert (await client.get(f"/users/{world.user_b.id}", headers=headers)).status_code == 200


async def _snapshot(db: AsyncSession, world: World) -> tuple[Any, ...]:
    units = (
        await db.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.version)
            .where(OrgUnit.path.startswith(world.town_b_path))
            .order_by(OrgUnit.path)
        )
    ).all()
    user = (await db.execute(select(User.display_name, User.version).where(User.id == world.ids["user_b"]))).one()
    grants = (await db.execute(select(RoleGrant.id, RoleGrant.ends_at).order_by(RoleGrant.id))).all()
    residents = (
        await db.execute(
            select(Resident.id, Resident.name, Resident.version)
            .join(OrgUnit, OrgUnit.id == Resident.grid_id)
            .where(OrgUnit.path.startswith(world.town_b_path))
            .order_by(Resident.id)
        )
    ).all()
    tags = (await db.execute(select(ResidentTag.id, ResidentTag.until_on).order_by(ResidentTag.id))).all()
    return tuple(units), tuple(user), tuple(grants), tuple(residents), tuple(tags)


def test_every_route_is_in_the_scope_table(settings: Settings) -> None:
    app = create_app(settings)
    covered = {(c.method, _template(c.path.split("?")[0])) for c in CASES}
    covered |= {(c.method, _template(c.path.split("?")[0])) for c in LIST_CASES}
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        for method in route.methods:
            key = (method, _template(route.path))
            if key not in covered and (method, route.path) not in SELF_ONLY:
                missing.append(key)
    assert not missing, f"add these routes to the scope table: {missing}"


def _template(path: str) -> str:
    """``/users/{user_id}/grants/{grant_id}/end`` -> ``/users/{}/grants/{}/end`` for comparison."""
    return re.sub(r"\{[^}]+\}", "{}", path)
