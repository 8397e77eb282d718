"""The deadline engine, with time moved through core/clock: reminder, breach, escalation ladder, meeting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import User
from services.core.config import Settings
from services.core.deadlines import service
from services.core.deadlines.kinds import UnknownDeadlineKind
from services.core.deadlines.models import Deadline, DeadlineState
from services.core.deadlines.policy import Policy, Step, policy_for
from services.core.jobs import take_job_intents
from services.core.notifications.models import Notification
from services.core.org.models import OrgUnit
from services.core.security.roles import Role
from tests.factories import make_child, make_district, make_user
from tests.sla_kinds import KIND

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class People:
    district: OrgUnit
    member: User
    leader: User
    institution: User
    community: User
    commission: User


async def make_people(db: AsyncSession) -> People:
    district = await make_district(db)
    town = await make_child(db, district)
    village = await make_child(db, town)
    return People(
        district=district,
        member=await make_user(db, Role.TEAM_MEMBER, town),
        leader=await make_user(db, Role.TEAM_LEADER, town),
        institution=await make_user(db, Role.INSTITUTION_STEWARD, town),
        community=await make_user(db, Role.COMMUNITY_STEWARD, village),
        commission=await make_user(db, Role.DISTRICT_COMMISSION, district),
    )


async def open_at_t0(db: AsyncSession, people: People, **over: object) -> Deadline:
    clock.freeze(T0)
    return await service.open_deadline(
        db,
        subject_type="report",
        subject_id=uuid.uuid4(),
        kind=KIND,
        district_id=people.district.id,
        started_at=T0,
        **over,  # type: ignore[arg-type]
    )


async def inbox(db: AsyncSession, user: User) -> list[str]:
    stmt = select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.created_at)
    return list(await db.scalars(stmt))


async def sweep_at(db: AsyncSession, hours: float) -> int:
    clock.freeze(T0 + timedelta(hours=hours))
    return (await service.sweep(db)).fired


async def test_reminder_at_36h_breach_at_48h_and_each_escalation_at_its_time(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    assert deadline.due_at == T0 + timedelta(hours=48)
    assert deadline.next_step_at == T0 + timedelta(hours=36)

    assert await sweep_at(db, 35.99) == 0
    assert await inbox(db, people.member) == []
    assert await sweep_at(db, 36) == 1
    assert await inbox(db, people.member) == ["deadline.reminder"]
    assert await inbox(db, people.leader) == []

    assert await sweep_at(db, 47.99) == 0
    assert deadline.state == DeadlineState.OPEN
    assert await sweep_at(db, 48) == 1
    assert await inbox(db, people.leader) == ["deadline.breach"]
    assert deadline.state == DeadlineState.BREACHED
    assert deadline.breached_at == T0 + timedelta(hours=48)

    assert await sweep_at(db, 71.99) == 0
    assert await inbox(db, people.institution) == []
    assert await sweep_at(db, 72) == 1
    assert await inbox(db, people.institution) == ["deadline.escalation_1"]
    assert await inbox(db, people.community) == ["deadline.escalation_1"]
    assert await inbox(db, people.commission) == []

    assert await sweep_at(db, 95.99) == 0
    assert await sweep_at(db, 96) == 1
    assert await inbox(db, people.commission) == ["deadline.escalation_2"]
    assert deadline.next_step_at is None
    assert await sweep_at(db, 500) == 0

    steps = await service.steps_taken(db, deadline.id)
    assert [(s.step, s.scheduled_at - T0) for s in steps] == [
        ("reminder", timedelta(hours=36)),
        ("breach", timedelta(hours=48)),
        ("escalation_1", timedelta(hours=72)),
        ("escalation_2", timedelta(hours=96)),
    ]
    assert steps[0].recipient_ids == [str(people.member.id)]


async def test_met_at_47h_means_no_breach_and_no_escalation(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    await sweep_at(db, 36)
    clock.freeze(T0 + timedelta(hours=47))
    await service.meet(db, subject_type="report", subject_id=deadline.subject_id, kind=KIND)
    for hours in (48, 72, 96, 200):
        assert await sweep_at(db, hours) == 0
    assert deadline.state == DeadlineState.MET
    assert deadline.met_at == T0 + timedelta(hours=47)
    assert deadline.breached_at is None
    assert [s.step for s in await service.steps_taken(db, deadline.id)] == ["reminder"]
    for person in (people.leader, people.institution, people.community, people.commission):
        assert await inbox(db, person) == []


async def test_met_after_breach_stops_further_escalation(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    await sweep_at(db, 48)  # reminder and breach together: a late sweeper catches up in order
    assert await inbox(db, people.member) == ["deadline.reminder"]
    assert await inbox(db, people.leader) == ["deadline.breach"]
    clock.freeze(T0 + timedelta(hours=50))
    await service.meet(db, subject_type="report", subject_id=deadline.subject_id, kind=KIND)
    assert await sweep_at(db, 100) == 0
    assert deadline.state == DeadlineState.BREACHED
    assert deadline.met_at == T0 + timedelta(hours=50)
    assert await inbox(db, people.institution) == []


async def test_met_late_before_the_sweeper_noticed_records_the_breach_but_tells_nobody(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    clock.freeze(T0 + timedelta(hours=49))
    await service.meet(db, subject_type="report", subject_id=deadline.subject_id, kind=KIND)
    assert deadline.state == DeadlineState.BREACHED
    assert await sweep_at(db, 100) == 0
    assert await inbox(db, people.leader) == []


async def test_cancel_stops_the_clock_and_meeting_twice_changes_nothing(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    await service.cancel(db, subject_type="report", subject_id=deadline.subject_id, kind=KIND)
    assert deadline.state == DeadlineState.CANCELLED
    assert await service.meet(db, subject_type="report", subject_id=deadline.subject_id, kind=KIND) is deadline
    assert deadline.state == DeadlineState.CANCELLED
    assert await sweep_at(db, 100) == 0


async def test_opening_twice_gives_one_clock(db: AsyncSession) -> None:
    people = await make_people(db)
    first = await open_at_t0(db, people)
    again = await service.open_deadline(
        db, subject_type="report", subject_id=first.subject_id, kind=KIND, district_id=people.district.id
    )
    assert again.id == first.id
    count = await db.scalar(select(func.count()).select_from(Deadline).where(Deadline.subject_id == first.subject_id))
    assert count == 1


async def test_opening_plans_the_first_step_job_after_commit(db: AsyncSession) -> None:
    people = await make_people(db)
    take_job_intents(db)
    deadline = await open_at_t0(db, people)
    [intent] = take_job_intents(db)
    assert intent.name == "deadlines.fire"
    assert intent.job_id == f"deadline:{deadline.id}:reminder"
    assert intent.defer_until == T0 + timedelta(hours=36)


async def test_firing_the_same_step_twice_notifies_once(db: AsyncSession) -> None:
    people = await make_people(db)
    deadline = await open_at_t0(db, people)
    clock.freeze(T0 + timedelta(hours=36))
    assert (await service.fire_due(db, deadline.id)).fired == ["reminder"]
    assert (await service.fire_due(db, deadline.id)).fired == []
    # Even with next_step_at forced back (a stale job racing a sweeper), the step row refuses a second run.
    deadline.next_step_at = T0
    await db.flush()
    assert (await service.fire_due(db, deadline.id)).fired == []
    assert await inbox(db, people.member) == ["deadline.reminder"]


async def test_an_urgent_kind_notifies_at_start_and_policy_comes_from_configuration(db: AsyncSession) -> None:
    settings = Settings(
        env="test",
        deadline_policies={
            f"{KIND}:urgent": {
                "due_after_hours": 24,
                "steps": [
                    {
                        "name": "at_start",
                        "offset_hours": 0,
                        "anchor": "start",
                        "audience": ["community_steward", "team"],
                    },
                    {"name": "breach", "offset_hours": 0, "audience": ["team_leader"]},
                ],
            }
        },
    )
    assert policy_for(settings, KIND, "other") == Policy()
    people = await make_people(db)
    deadline = await open_at_t0(db, people, category="urgent", settings=settings)
    assert deadline.due_at == T0 + timedelta(hours=24)
    assert deadline.policy["steps"][0]["name"] == "at_start"
    assert await sweep_at(db, 0) == 1
    assert await inbox(db, people.community) == ["deadline.at_start"]
    assert await inbox(db, people.member) == ["deadline.at_start"]
    assert await inbox(db, people.leader) == ["deadline.at_start"]
    assert await sweep_at(db, 24) == 1
    assert await inbox(db, people.leader) == ["deadline.at_start", "deadline.breach"]


async def test_an_unknown_kind_is_refused_at_once(db: AsyncSession) -> None:
    with pytest.raises(UnknownDeadlineKind):
        await service.open_deadline(
            db, subject_type="report", subject_id=uuid.uuid4(), kind="nobody.handles.this", district_id=uuid.uuid4()
        )


async def test_a_failing_handler_is_isolated_and_retried_later(db: AsyncSession) -> None:
    people = await make_people(db)
    good = await open_at_t0(db, people)
    bad = await open_at_t0(db, people)
    # A policy step whose audience the handler cannot resolve is fine; a broken policy is not.
    await db.execute(text('update deadline set policy = \'{"steps": "broken"}\' where id = :id'), {"id": bad.id})
    clock.freeze(T0 + timedelta(hours=36))
    result = await service.sweep(db)
    assert result.failed == [bad.id]
    assert result.fired == 1
    row = (await db.execute(select(Deadline.next_step_at, Deadline.last_error).where(Deadline.id == bad.id))).one()
    assert row.next_step_at == T0 + timedelta(hours=36) + service.RETRY_AFTER
    assert row.last_error
    assert [s.step for s in await service.steps_taken(db, good.id)] == ["reminder"]


async def test_the_sweeper_selects_only_due_rows(db: AsyncSession) -> None:
    people = await make_people(db)
    due = [await open_at_t0(db, people) for _ in range(3)]
    for _ in range(20):
        await service.open_deadline(
            db,
            subject_type="report",
            subject_id=uuid.uuid4(),
            kind=KIND,
            district_id=people.district.id,
            started_at=T0 + timedelta(hours=10),
        )
    met = await open_at_t0(db, people)
    await service.meet(db, subject_type="report", subject_id=met.subject_id, kind=KIND)
    clock.freeze(T0 + timedelta(hours=36))
    result = await service.sweep(db)
    assert result.selected == 3
    assert result.fired == 3
    assert {d.id for d in due} == set(
        await db.scalars(select(Deadline.id).where(Deadline.next_step_at == T0 + timedelta(hours=48)))
    )


async def test_the_sweeper_query_reads_the_partial_index(db: AsyncSession) -> None:
    await db.execute(text("set local enable_seqscan = off"))
    compiled = service.due_statement(now=T0, limit=500).compile(
        dialect=db.bind.dialect, compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join((await db.execute(text(f"explain {compiled}"))).scalars())
    assert "ix_deadline_next_step_at_pending" in plan, plan


def test_steps_are_data_with_times_relative_to_due_or_start() -> None:
    step = Step(name="x", offset_hours=-12, audience=("responsible",))
    assert step.at(started_at=T0, due_at=T0 + timedelta(hours=48)) == T0 + timedelta(hours=36)
    # A reminder that would fall before the start happens at the start instead.
    assert step.at(started_at=T0, due_at=T0 + timedelta(hours=6)) == T0
    with pytest.raises(ValueError, match="unique"):
        Policy(steps=(step, step))
