"""The transition tables, walked: per record type every (state, action) pair the declaration holds
succeeds through the core service, every other one answers 409; the tables themselves are pinned
here as the plan states them, so a change to a declaration is a change to this file too."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.errors import (
    DomainError,
    Forbidden,
    IllegalTransition,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from services.core.lifecycle import Lifecycle, Transition
from services.core.org.models import OrgUnit
from services.core.reports import access
from services.core.reports import service as reports
from services.core.reports.lifecycle import REPORT
from services.core.reports.models import ReportStatus, SentinelReport
from services.core.reports.schemas import (
    FollowUpCreate,
    InterventionStart,
    ReportCancel,
    ReportClose,
    ReportCreate,
    ReportIn,
)
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Permission, Role
from services.core.signing import service as signings
from services.core.signing.lifecycle import SIGNING, SigningStage
from services.core.signing.models import Signing
from services.core.signing.schemas import SigningRenew, SigningTerminate
from services.core.teams import teams as team_service
from services.core.teams.lifecycle import TEAM
from services.core.teams.models import Team, TeamStatus
from services.core.teams.schemas import TeamUpdate
from tests.factories import (
    TEST_PII,
    make_assignment,
    make_child,
    make_district,
    make_institution,
    make_resident,
    make_signing,
    make_team,
    make_user,
)
from tests.report_world import build_report_world, health_need, sentinel_principal

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
R, G, T = ReportStatus, SigningStage, TeamStatus

# (action, from) -> to; None: stays where it is (a new version, no history row).
REPORT_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("submit", None): R.SUBMITTED,
    ("report_in", R.SUBMITTED): R.REPORTED_IN,
    ("follow_up", R.REPORTED_IN): R.FOLLOWED_UP,
    ("follow_up", R.FOLLOWED_UP): None,
    ("follow_up", R.INTERVENING): None,
    ("start_intervention", R.FOLLOWED_UP): R.INTERVENING,
    ("close", R.FOLLOWED_UP): R.CLOSED,
    ("close", R.INTERVENING): R.CLOSED,
    ("cancel", R.SUBMITTED): R.CANCELLED,
}
SIGNING_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("sign", None): G.SIGNED,
    ("renew", G.SIGNED): G.RENEWED,
    ("terminate", G.SIGNED): G.TERMINATED,
    ("terminate", G.RENEWED): G.TERMINATED,
}
TEAM_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("suspend", T.ACTIVE): T.SUSPENDED,
    ("reactivate", T.SUSPENDED): T.ACTIVE,
    ("dissolve", T.ACTIVE): T.DISSOLVED,
    ("dissolve", T.SUSPENDED): T.DISSOLVED,
}


def _table(lifecycle: Lifecycle[Any]) -> dict[tuple[str, StrEnum | None], StrEnum | None]:
    return {pair: t.target for pair, t in lifecycle.pairs().items()}


@pytest.mark.parametrize(
    ("lifecycle", "table"), [(REPORT, REPORT_TABLE), (SIGNING, SIGNING_TABLE), (TEAM, TEAM_TABLE)], ids=str
)
def test_each_declaration_is_the_planned_table(lifecycle: Lifecycle[Any], table: dict[Any, Any]) -> None:
    assert _table(lifecycle) == table


async def _walk(
    states: type[StrEnum],
    actions: list[str],
    table: dict[tuple[str, StrEnum | None], StrEnum | None],
    db: AsyncSession,
    attempt: Callable[[StrEnum, str], Awaitable[StrEnum]],
) -> None:
    """Try every (state, action) in a savepoint rolled back after it: legal pairs reach their
    target (or stay), the others answer 409."""
    for state in states:
        for action in actions:
            savepoint = await db.begin_nested()
            try:
                if (action, state) in table:
                    target = table[(action, state)]
                    reached = await attempt(state, action)
                    assert reached == (target or state), (state, action)
                else:
                    with pytest.raises(DomainError) as refused:
                        await attempt(state, action)
                    assert refused.value.status == 409, (state, action, refused.value)
            finally:
                await savepoint.rollback()


async def test_every_report_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_report_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    sentinel = sentinel_principal(world.sentinel.id, world.grid)
    member = Principal(
        user_id=world.paired.id,
        username="paired",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.TEAM_MEMBER, world.town.id, world.town.path),),
    )
    handler, reporter = await access.viewer_for(db, member), await access.viewer_for(db, sentinel)
    facts: dict[ReportStatus, dict[str, Any]] = {
        R.SUBMITTED: {},
        R.REPORTED_IN: {"reported_in_at": T0},
        R.FOLLOWED_UP: {"reported_in_at": T0, "first_follow_up_at": T0},
        R.INTERVENING: {"reported_in_at": T0, "first_follow_up_at": T0, "intervention_started_at": T0},
        R.CLOSED: {"reported_in_at": T0, "first_follow_up_at": T0, "closed_at": T0, "outcome": "resolved"},
        R.CANCELLED: {"cancelled_at": T0},
    }
    ids: dict[StrEnum, uuid.UUID] = {}
    for state, values in facts.items():
        body = ReportCreate.model_validate(health_need(world.grid.id, world.resident.id))
        created = await reports.create(db, sentinel, body, pii=TEST_PII)
        await db.execute(
            update(SentinelReport).where(SentinelReport.id == body.id).values(status=state.value, **values)
        )
        ids[state] = created.report.id
    calls: dict[str, Callable[..., Awaitable[SentinelReport]]] = {
        "report_in": lambda v, r, p, n: reports.report_in(db, v, r, p, ReportIn(), expected_version=n),
        "follow_up": lambda v, r, p, n: reports.add_follow_up(
            db, v, r, p, FollowUpCreate(channel="phone", outcome="reached"), expected_version=n
        ),
        "start_intervention": lambda v, r, p, n: reports.start_intervention(
            db, v, r, p, InterventionStart(plan="每周上门"), expected_version=n
        ),
        "close": lambda v, r, p, n: reports.close(db, v, r, p, ReportClose(outcome="resolved"), expected_version=n),
        "cancel": lambda v, r, p, n: reports.cancel(db, v, r, p, ReportCancel(reason="报错了"), expected_version=n),
    }

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        viewer = reporter if action == "cancel" else handler
        report, path = await reports.get_in_scope(db, viewer, ids[state])
        moved = await calls[action](viewer, report, path, report.version)
        return ReportStatus(moved.status)

    await _walk(ReportStatus, list(calls), REPORT_TABLE, db, attempt)


async def _admin_world(db: AsyncSession) -> tuple[Principal, Any, Any, Any]:
    """A district with a team responsible for a village's grid, and its administrator."""
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    team = await make_team(db, await make_institution(db, town))
    await make_assignment(db, team, village, starts_at=T0 - timedelta(days=30))
    user = await make_user(db, Role.DISTRICT_ADMIN, district)
    admin = Principal(
        user_id=user.id,
        username=user.username,
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.DISTRICT_ADMIN, district.id, district.path),),
    )
    return admin, team, grid, district


async def test_every_signing_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    clock.freeze(T0)
    leader, team, grid, _ = await _admin_world(db)
    today = signings.today()
    ids: dict[StrEnum, uuid.UUID] = {}
    for stage in SigningStage:
        resident = await make_resident(db, grid)
        signing = await make_signing(db, resident, team, signed_by=leader.user_id, starts_on=today)
        ids[stage] = signing.id
        if stage is G.RENEWED:
            await signings.renew(db, leader, signing.id, SigningRenew())
        if stage is G.TERMINATED:
            await db.execute(
                update(Signing)
                .where(Signing.id == signing.id)
                .values(ends_on=today, termination_reason="other", terminated_at=T0, terminated_by=leader.user_id)
            )

    async def attempt(stage: StrEnum, action: str) -> StrEnum:
        signing, _ = await signings.get_in_scope(db, leader, ids[stage])
        await db.refresh(signing)
        if action == "renew":
            await signings.renew(db, leader, signing.id, SigningRenew())
            return G.RENEWED
        ended = await signings.terminate(
            db, leader, signing.id, SigningTerminate(reason="other", ends_on=today), expected_version=signing.version
        )
        return G.TERMINATED if ended.termination_reason else G.SIGNED

    await _walk(SigningStage, ["renew", "terminate"], SIGNING_TABLE, db, attempt)


async def test_every_team_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    """Through PATCH's service the action follows from the status asked for; asking for the status
    a team already has is a no-op by design, so those pairs are walked through the kit's check."""
    clock.freeze(T0)
    admin, _, _, district = await _admin_world(db)
    institution = await make_institution(db, district)
    ids: dict[StrEnum, uuid.UUID] = {}
    for status in TeamStatus:
        team = await make_team(db, institution, level="district")
        await db.execute(update(Team).where(Team.id == team.id).values(status=status.value))
        ids[status] = team.id
    wanted = {"suspend": T.SUSPENDED, "reactivate": T.ACTIVE, "dissolve": T.DISSOLVED}

    async def attempt(status: StrEnum, action: str) -> StrEnum:
        team = await db.get(Team, ids[status], populate_existing=True)
        assert team is not None
        if wanted[action] == status:
            with pytest.raises(IllegalTransition):
                lifecycle.check(TEAM, team, action, actor=admin, path="", expected_version=team.version)
            raise IllegalTransition("asking for the status it has changes nothing")
        data = TeamUpdate(status=wanted[action])
        changed = await team_service.update_team(
            db, principal=admin, team_id=team.id, data=data, expected_version=team.version
        )
        return TeamStatus(changed.status)

    await _walk(TeamStatus, list(wanted), TEAM_TABLE, db, attempt)


async def test_a_signing_termination_is_refused_in_the_same_order(db: AsyncSession) -> None:
    clock.freeze(T0)
    admin, team, grid, district = await _admin_world(db)
    elsewhere = await make_child(db, district, number=2)
    village = await db.get(OrgUnit, grid.parent_id)
    assert village is not None
    resident = await make_resident(db, grid)
    today = signings.today()
    signing = await make_signing(db, resident, team, signed_by=admin.user_id, starts_on=today)

    def caller(role: Role, unit: Any) -> Principal:
        return Principal(admin.user_id, "x", "person", uuid.uuid4(), (Grant(uuid.uuid4(), role, unit.id, unit.path),))

    body = SigningTerminate(reason="other", ends_on=today)
    outsider = caller(Role.TEAM_LEADER, elsewhere)  # may terminate signings, not this one's
    steward = caller(Role.COMMUNITY_STEWARD, village)  # writes residents here, may not terminate signings
    refusals = [
        (outsider, None, NotFound),
        (steward, None, PreconditionRequired),
        (steward, 9, PreconditionFailed),
        (steward, 1, Forbidden),
    ]
    for principal, version, refusal in refusals:
        with pytest.raises(refusal):
            await signings.terminate(db, principal, signing.id, body, expected_version=version)
    ended = await signings.terminate(db, admin, signing.id, body, expected_version=1)
    with pytest.raises(IllegalTransition):
        await signings.terminate(db, admin, signing.id, body, expected_version=ended.version)
    history = await lifecycle.history(db, subject_type="signing", subject_id=signing.id)
    assert [(t.action, t.from_state, t.to_state, t.reason) for t in history] == [
        ("terminate", "signed", "terminated", "other")
    ]


def test_a_declaration_that_contradicts_itself_is_refused_at_import() -> None:
    def declare(*transitions: Transition) -> Lifecycle[Any]:
        return Lifecycle(subject_type="x", noun="x", states=TeamStatus, transitions=transitions)

    w, r = Permission.TEAMS_WRITE, Permission.TEAMS_READ
    with pytest.raises(ValueError, match="one permission"):
        declare(Transition("go", (T.ACTIVE,), T.SUSPENDED, w), Transition("go", (T.SUSPENDED,), T.ACTIVE, r))
    with pytest.raises(ValueError, match="declared twice"):
        declare(Transition("go", (T.ACTIVE,), T.SUSPENDED, w), Transition("go", (T.ACTIVE,), T.DISSOLVED, w))
    with pytest.raises(ValueError, match="not a state"):
        declare(Transition("go", (R.SUBMITTED,), T.SUSPENDED, w))
