"""The bulletins' view of volunteer hours (``metrics.verified_hours`` without a caller): verified hours per
volunteer, department, institution and district for a period, in SQL; null (not logged) apart from 0."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind
from services.core.volunteers.metrics import Level, verified_hours
from services.core.volunteers.models import Volunteer, VolunteerHours
from tests.factories import make_department, make_district, make_institution, make_user

AT = datetime(2026, 3, 10, tzinfo=UTC)


async def _volunteer(db: AsyncSession, department: Any, name: str) -> Volunteer:
    row = Volunteer(
        name=name,
        registered_on=date(2026, 1, 1),
        department_id=department.id,
        institution_id=department.institution_id,
        org_unit_id=department.org_unit_id,
        district_id=department.district_id,
    )
    db.add(row)
    await db.flush()
    return row


async def _hours(db: AsyncSession, volunteer: Volunteer, on: date, hours: str, status: str, by: Any) -> None:
    db.add(
        VolunteerHours(
            volunteer_id=volunteer.id,
            served_on=on,
            hours=Decimal(hours),
            activity="导诊",
            status=status,
            submitted_at=AT,
            submitted_by=by,
            department_id=volunteer.department_id,
            institution_id=volunteer.institution_id,
            org_unit_id=volunteer.org_unit_id,
            district_id=volunteer.district_id,
        )
    )
    await db.flush()


async def test_verified_hours_per_level_for_a_period(db: AsyncSession) -> None:
    district = await make_district(db)
    user = await make_user(db, Role.DISTRICT_ADMIN, district)
    people = await make_department(db, await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL))
    tcm = await make_department(db, await make_institution(db, district, kind=InstitutionKind.TCM_HOSPITAL))
    empty = await make_department(db, await make_institution(db, district, kind=InstitutionKind.MATERNAL_CHILD))
    a, b = await _volunteer(db, people, "甲"), await _volunteer(db, people, "乙")
    c, d = await _volunteer(db, tcm, "丙"), await _volunteer(db, tcm, "丁")
    await _hours(db, a, date(2026, 3, 1), "2.5", "verified", user.id)
    await _hours(db, a, date(2026, 3, 31), "1", "verified", user.id)
    await _hours(db, a, date(2026, 4, 1), "8", "verified", user.id)  # outside March
    await _hours(db, b, date(2026, 3, 5), "3", "rejected", user.id)
    await _hours(db, c, date(2026, 3, 6), "4", "verified", user.id)
    await _hours(db, c, date(2026, 3, 7), "2", "submitted", user.id)

    def by_id(rows: list[Any]) -> dict[Any, tuple[Any, Any, int]]:
        return {r.id: (r.verified_hours, r.pending_hours, r.entries) for r in rows}

    march = {"starts_on": date(2026, 3, 1), "ends_on": date(2026, 3, 31)}
    volunteers = by_id(await verified_hours(db, level=Level.VOLUNTEER, district_id=district.id, **march))
    assert volunteers[a.id] == (Decimal("3.50"), 0, 2)
    assert volunteers[b.id] == (0, 0, 1)  # logged, rejected: 0
    assert volunteers[c.id] == (Decimal("4.00"), Decimal("2.00"), 2)
    assert volunteers[d.id] == (None, 0, 0)  # not logged
    departments = by_id(await verified_hours(db, level=Level.DEPARTMENT, district_id=district.id, **march))
    assert departments[people.id][0] == Decimal("3.50")
    assert departments[tcm.id][0] == Decimal("4.00")
    assert departments[empty.id][0] is None
    institutions = by_id(await verified_hours(db, level=Level.INSTITUTION, district_id=district.id, **march))
    assert institutions[people.institution_id][0] == Decimal("3.50")
    (total,) = await verified_hours(db, level=Level.DISTRICT, district_id=district.id, **march)
    assert (total.id, total.verified_hours, total.entries) == (district.id, Decimal("7.50"), 5)
