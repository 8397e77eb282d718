"""The volunteer shift and hours-entry tables, pinned as the plan states them and walked through the
service: every (state, action) pair in the table succeeds, every other answers 409."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.lifecycle import Lifecycle
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind
from services.core.volunteers import hours, shifts
from services.core.volunteers.lifecycle import HOURS, SHIFT
from services.core.volunteers.models import HoursStatus, ShiftStatus, Volunteer, VolunteerHours, VolunteerShift
from services.core.volunteers.schemas import HoursReject, ShiftReason, ShiftSchedule
from tests.core.test_lifecycle_tables import _walk
from tests.factories import make_child, make_department, make_district, make_institution, make_user

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
S, H = ShiftStatus, HoursStatus

SHIFT_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("offer", None): S.OFFERED,
    ("schedule", S.OFFERED): S.SCHEDULED,
    ("attend", S.SCHEDULED): S.ATTENDED,
    ("no_show", S.SCHEDULED): S.NO_SHOW,
    ("cancel", S.OFFERED): S.CANCELLED,
    ("cancel", S.SCHEDULED): S.CANCELLED,
}
HOURS_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("submit", None): H.SUBMITTED,
    ("record", None): H.SUBMITTED,
    ("verify", H.SUBMITTED): H.VERIFIED,
    ("reject", H.SUBMITTED): H.REJECTED,
}


@pytest.mark.parametrize(("lifecycle", "table"), [(SHIFT, SHIFT_TABLE), (HOURS, HOURS_TABLE)], ids=str)
def test_each_declaration_is_the_planned_table(lifecycle: Lifecycle[Any], table: dict[Any, Any]) -> None:
    assert {pair: t.target for pair, t in lifecycle.pairs().items()} == table


async def _department(db: AsyncSession) -> tuple[Principal, Any, Volunteer]:
    """A district hospital's social-work department, one of its social workers (as a principal) and a volunteer."""
    district = await make_district(db)
    await make_child(db, district, number=1)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    department = await make_department(db, hospital)
    user = await make_user(db, Role.SOCIAL_WORKER, district)
    worker = Principal(
        user_id=user.id,
        username=user.username,
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.SOCIAL_WORKER, district.id, district.path, hospital.id),),
    )
    volunteer = Volunteer(
        name="志愿者",
        registered_on=date(2026, 1, 1),
        department_id=department.id,
        institution_id=hospital.id,
        org_unit_id=department.org_unit_id,
        district_id=department.district_id,
    )
    db.add(volunteer)
    await db.flush()
    return worker, department, volunteer


def _at(department: Any) -> dict[str, Any]:
    return {
        "department_id": department.id,
        "institution_id": department.institution_id,
        "org_unit_id": department.org_unit_id,
        "district_id": department.district_id,
    }


async def test_every_shift_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    clock.freeze(T0)
    worker, department, volunteer = await _department(db)
    ids: dict[StrEnum, uuid.UUID] = {}
    for state in ShiftStatus:
        row = VolunteerShift(
            title="导诊",
            starts_at=T0 - timedelta(hours=1),
            ends_at=T0 + timedelta(hours=1),
            status=state.value,
            volunteer_id=None if state is S.OFFERED else volunteer.id,
            created_by=worker.user_id,
            **_at(department),
        )
        db.add(row)
        await db.flush()
        ids[state] = row.id
    calls: dict[str, Callable[[uuid.UUID, int], Awaitable[VolunteerShift]]] = {
        "schedule": lambda i, n: shifts.schedule(
            db, principal=worker, shift_id=i, data=ShiftSchedule(volunteer_id=volunteer.id), expected_version=n
        ),
        **{
            action: (
                lambda i, n, action=action: shifts.change(
                    db, principal=worker, shift_id=i, action=action, data=ShiftReason(), expected_version=n
                )
            )
            for action in ("attend", "no_show", "cancel")
        },
    }

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        row = await db.get(VolunteerShift, ids[state], populate_existing=True)
        assert row is not None
        moved = await calls[action](row.id, row.version)
        return ShiftStatus(moved.status)

    await _walk(ShiftStatus, list(calls), SHIFT_TABLE, db, attempt)


async def test_every_hours_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    clock.freeze(T0)
    worker, department, volunteer = await _department(db)
    ids: dict[StrEnum, uuid.UUID] = {}
    for state in HoursStatus:
        row = VolunteerHours(
            volunteer_id=volunteer.id,
            served_on=date(2026, 3, 1),
            hours=Decimal(2),
            activity="陪诊",
            status=state.value,
            submitted_at=T0,
            submitted_by=worker.user_id,
            **_at(department),
        )
        db.add(row)
        await db.flush()
        ids[state] = row.id

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        row = await db.get(VolunteerHours, ids[state], populate_existing=True)
        assert row is not None
        data = HoursReject(reason="未签到") if action == "reject" else None
        moved = await hours.decide(
            db, principal=worker, entry_id=row.id, action=action, data=data, expected_version=row.version
        )
        return HoursStatus(moved.status)

    await _walk(HoursStatus, ["verify", "reject"], HOURS_TABLE, db, attempt)
