"""What of a record a caller sees is a permission in the role table, and nothing else decides it."""

from __future__ import annotations

import ast
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.org.models import OrgUnit
from services.core.residents import repository as residents_repository
from services.core.residents import service as residents_service
from services.core.residents.errors import IdentityNotPermitted
from services.core.residents.schemas import ResidentView
from services.core.security.principal import Grant, Principal, scope_clause
from services.core.security.roles import ROLE_PERMISSIONS, Permission, Role
from services.core.teams import people as people_service
from services.core.teams.errors import MobileNotPermitted
from tests.factories import TEST_PII, make_child, make_district, make_resident, make_worker

SERVICES = Path(__file__).resolve().parents[2] / "services"

# Who sees what, as the product decided it (core/residents/policy.py, GET /people/{id}/mobile).
VISIBILITY = {
    Permission.RESIDENTS_READ_CARE: {
        Role.DISTRICT_ADMIN,
        Role.AUDITOR,
        Role.DISTRICT_COMMISSION,
        Role.TOWN_SUPERVISOR,
        Role.INSTITUTION_STEWARD,
        Role.TEAM_LEADER,
        Role.TEAM_MEMBER,
        Role.COMMUNITY_STEWARD,
    },
    Permission.RESIDENTS_READ_IDENTITY: {Role.TEAM_LEADER, Role.TEAM_MEMBER, Role.COMMUNITY_STEWARD},
    Permission.PEOPLE_READ_MOBILE: {Role.DISTRICT_ADMIN, Role.INSTITUTION_STEWARD, Role.TEAM_LEADER},
    Permission.SIGNINGS_WRITE: {Role.DISTRICT_ADMIN, Role.TEAM_LEADER, Role.TEAM_MEMBER},
    Permission.REPORTS_READ_AREA: {Role.DISTRICT_ADMIN, Role.GRID_LEADER, Role.COMMUNITY_STEWARD},
    Permission.REPORTS_READ_CARE: {
        Role.DISTRICT_ADMIN,
        Role.AUDITOR,
        Role.DISTRICT_COMMISSION,
        Role.TOWN_SUPERVISOR,
        Role.INSTITUTION_STEWARD,
    },
    Permission.REPORTS_READ_CARE_TEAM: {Role.DISTRICT_ADMIN, Role.TEAM_LEADER, Role.TEAM_MEMBER},
    Permission.REPORTS_SUBMIT_ANY_GRID: {Role.DISTRICT_ADMIN, Role.GRID_LEADER},
    # a case's confidential notes: its social workers and the department's supervisor (per row), nobody else
    Permission.SOCIALWORK_READ_CONFIDENTIAL: {Role.SOCIAL_WORKER, Role.SOCIAL_WORK_SUPERVISOR},
}

# Files that may name roles, and why none of them decides what a caller sees.
MAY_NAME_ROLES = {
    "core/security/roles.py": "the table itself",
    "core/security/principal.py": "turns grants into the table's permissions",
    "core/accounts/users.py": "which roles an account kind may be granted",
    "core/accounts/schemas.py": "grants name their role",
    "core/accounts/service.py": "loads grants",
    "core/reports/routing.py": "whom a report notifies (holders of a role), not what anyone sees",
    "core/referrals/routing.py": "whom a referral notifies (desks, the commission), not what anyone sees",
    "core/referrals/service.py": "whom a referral notifies (the institution's desk), not what anyone sees",
    "core/duties/checks.py": "whom a due date reminds (administrators, town supervisors), not what anyone sees",
    "core/socialwork/routing.py": "whom a social-work clock tells (a department's supervisors), not what anyone sees",
    "core/supervision/messages.py": "whom a bulletin, a roll-up or a ledger clock notifies, not what anyone sees",
    "cli.py": "creates the first administrator",
    "dev/bootstrap.py": "the demo district's logins",
}


def test_the_role_table_says_who_sees_what() -> None:
    for permission, roles in VISIBILITY.items():
        assert {r for r in Role if permission in ROLE_PERMISSIONS[r]} == roles, permission


def test_seeing_more_of_a_resident_needs_the_view_below_it() -> None:
    for role, permissions in ROLE_PERMISSIONS.items():
        if Permission.RESIDENTS_READ_IDENTITY in permissions:
            assert Permission.RESIDENTS_READ_CARE in permissions, role
        if Permission.RESIDENTS_READ_CARE in permissions:
            assert Permission.RESIDENTS_READ in permissions, role


def test_no_module_decides_by_role_outside_the_authorization_table() -> None:
    """A role named anywhere else (``Role.X``, ``g.role in {...}``) would be a second source of who sees what."""
    offences = []
    for path in SERVICES.rglob("*.py"):
        relative = path.relative_to(SERVICES).as_posix()
        if relative in MAY_NAME_ROLES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Role":
                offences.append(f"{relative}:{node.lineno} Role.{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "role" and isinstance(node.value, ast.Name):
                if node.value.id in {"g", "grant"}:
                    offences.append(f"{relative}:{node.lineno} {node.value.id}.role")
    assert not offences, offences


def _principal(role: Role, unit: OrgUnit) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        username="someone",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), role, unit.id, unit.path),),
    )


async def test_changing_the_table_alone_changes_what_a_role_sees(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    made = await make_resident(db, grid, birth_on=date(1961, 7, 9))
    worker = await make_worker(db, village)
    supervisor, member = _principal(Role.TOWN_SUPERVISOR, town), _principal(Role.TEAM_MEMBER, town)
    resident, _ = await residents_repository.get_in_scope(db, supervisor, made.id)

    seen = residents_service.to_read(supervisor, resident, grid.path)
    assert (seen.view, seen.birth_on, seen.birth_year) == (ResidentView.CARE, None, 1961)
    with pytest.raises(IdentityNotPermitted):
        await residents_service.read_identity(db, supervisor, resident.id, pii=TEST_PII)
    with pytest.raises(MobileNotPermitted):
        await people_service.read_mobile(db, principal=member, person_id=worker.id, pii=TEST_PII)

    table = dict(ROLE_PERMISSIONS)
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.TOWN_SUPERVISOR, table[Role.TOWN_SUPERVISOR] | {Permission.RESIDENTS_READ_IDENTITY}
    )
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.TEAM_MEMBER, table[Role.TEAM_MEMBER] | {Permission.PEOPLE_READ_MOBILE})
    assert residents_service.to_read(supervisor, resident, grid.path).birth_on == date(1961, 7, 9)
    assert (await residents_service.read_identity(db, supervisor, resident.id, pii=TEST_PII)).phone == "13812345678"
    revealed = await people_service.read_mobile(db, principal=member, person_id=worker.id, pii=TEST_PII)
    assert revealed.mobile == people_service.open_mobile(worker, TEST_PII)

    monkeypatch.setitem(ROLE_PERMISSIONS, Role.TEAM_MEMBER, table[Role.TEAM_MEMBER] - {Permission.RESIDENTS_READ_CARE})
    assert residents_service.to_read(member, resident, grid.path).view is ResidentView.SENTINEL


async def test_what_a_row_shows_is_decided_by_the_scope_rule_in_sql_and_in_python_alike(db: AsyncSession) -> None:
    """``Principal.can_at`` on a loaded row answers what ``scope_clause`` answers in SQL, for every permission."""
    grants = (
        Grant(uuid.uuid4(), Role.SENTINEL, uuid.uuid4(), "/500112/500112002000/500112002001/500112002001001/"),
        Grant(uuid.uuid4(), Role.TEAM_MEMBER, uuid.uuid4(), "/500112/500112004000/"),
        Grant(uuid.uuid4(), Role.TOWN_SUPERVISOR, uuid.uuid4(), "/500112/500112002000/"),
    )
    principal = Principal(uuid.uuid4(), "x", "person", uuid.uuid4(), grants)
    paths = [
        "/500112/",
        "/500112/500112002000/500112002001/500112002001001/",
        "/500112/500112002000/500112002001/500112002001002/",
        "/500112/500112004000/500112004001/",
        "/500112/500112016000/",
    ]
    for permission in Permission:
        for path in paths:
            in_sql = await db.scalar(select(scope_clause(principal, permission, literal(path))))
            assert bool(in_sql) == principal.can_at(permission, path), (permission, path)
