"""A small town for supervision tests, whose half-year figures the tests count by hand.

District 渝北区 with two towns; town 1 has village V1 (grids G1, G2) and village V2 (grid G3); town 2 one
village and grid. The first half of 2026 (China time) is the period; the world is built with the
clock at 2025-11-01 and each row dated explicitly, so "as it was during the period" is testable:

* V1 is team A's (village responsibility from 2025-12-01); G2 overrides it: team A from 1 January,
  team B from 1 April (its team changed mid-period); G3 has no team.
* G1: sentinel s1 paired with a member of A; its grid leader paired with A's leader.
  G2: sentinel s2 unpaired, sentinel s3 (paired) who left on 1 March; its grid leader unpaired.
  G3: nobody. V1's community steward is paired with the institution's steward; V2 has none.
* Reports (r1..r7), three referrals, residents with signings and contacts, two ledger items: see
  ``build_supervision_world`` and the expected figures in ``tests/core/test_supervision.py``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.assignments.models import Pairing
from services.core.deadlines.models import Deadline
from services.core.duties.models import WorkDay
from services.core.notifications.templates import CHINA_TIME
from services.core.referrals.models import Referral
from services.core.reports.models import SentinelReport
from services.core.security.roles import Role
from services.core.signing.models import Contact
from services.core.socialwork.lifecycle import TRANSFER_FOLLOW_UP, TRANSFER_SUBJECT
from services.core.socialwork.models import SocialWorkCase, Transfer
from services.core.supervision.models import RectificationItem
from services.core.teams.models import InstitutionKind, InstitutionSteward
from services.core.volunteers.models import Volunteer, VolunteerHours
from tests.factories import (
    make_assignment,
    make_child,
    make_community_role,
    make_department,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_signing,
    make_social_worker,
    make_staff,
    make_team,
    make_user,
    snapshot,
)

BUILT_AT = datetime(2025, 11, 1, tzinfo=CHINA_TIME)
AFTER = datetime(2026, 7, 2, 9, 0, tzinfo=CHINA_TIME)  # the half year has ended


def cn(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    """An instant in China time."""
    return datetime(year, month, day, hour, tzinfo=CHINA_TIME)


@dataclass
class SupervisionWorld:
    district: Any
    town: Any
    other_town: Any
    v1: Any
    v2: Any
    g1: Any
    g2: Any
    g3: Any
    team_a: Any
    team_b: Any
    supervisor: Any
    other_supervisor: Any
    commission: Any
    steward: Any
    owner: Any
    reports: dict[str, uuid.UUID]


async def _report(
    db: AsyncSession,
    grid: Any,
    village: Any,
    town: Any,
    team: Any,
    user: Any,
    *,
    category: str,
    submitted_at: datetime,
    reported_in_after: float | None = None,
    followed_up_after: float | None = None,
    closed_at: datetime | None = None,
    cancelled_at: datetime | None = None,
) -> uuid.UUID:
    """A report row and its 48-hour follow-up clock, dated as given (hours after submission)."""
    report_id = uuid.uuid4()
    reported_in = submitted_at + timedelta(hours=reported_in_after) if reported_in_after is not None else None
    followed = submitted_at + timedelta(hours=followed_up_after) if followed_up_after is not None else None
    status = "submitted"
    if reported_in:
        status = "reported_in"
    if followed:
        status = "followed_up"
    if closed_at:
        status = "closed"
    if cancelled_at:
        status = "cancelled"
    db.add(
        SentinelReport(
            id=report_id,
            district_id=grid.district_id,
            town_id=town.id,
            village_id=village.id,
            grid_id=grid.id,
            category=category,
            status=status,
            details={},
            reporter_id=user.id,
            team_id=team.id,
            unrouted=False,
            submitted_at=submitted_at,
            body_digest="0" * 64,
            reported_in_at=reported_in,
            reported_in_by=user.id if reported_in else None,
            first_follow_up_at=followed,
            closed_at=closed_at,
            closed_by=user.id if closed_at else None,
            outcome="resolved" if closed_at else None,
            cancelled_at=cancelled_at,
        )
    )
    db.add(
        Deadline(
            subject_type="report",
            subject_id=report_id,
            kind="report.follow_up",
            policy={},
            district_id=grid.district_id,
            started_at=submitted_at,
            due_at=submitted_at + timedelta(hours=48),
            met_at=followed,
            cancelled_at=cancelled_at,
            state="met" if followed else ("cancelled" if cancelled_at else "open"),
        )
    )
    await db.flush()
    return report_id


async def _social_work_volunteers_and_work_days(
    db: AsyncSession, district: Any, institution: Any, v1: Any, g3: Any, res1: Any, res3: Any, team_a: Any, team_b: Any
) -> None:
    """The other domains' rows (see ``test_the_town_bulletin_equals_the_figures_counted_by_hand``):

    * the town's health centre's social-work department D: c1 (res1, G1) opened 1 Feb, closed 1 May; c2 (res3,
      G2) opened 1 March, still open; c3 a non-resident opened 1 April, still open; c0 (res1) opened and
      closed in 2025. Transfers: c1's offered 1 May, answered with a receipt, followed up in time; c2's offered
      1 June, unanswered, its follow-up clock breached.
    * volunteer hours: D's volunteer 2.5 h verified, 3 h rejected, 4 h submitted in the half year, 8 h verified
      on 31 Dec 2025; clinic K (at V1) 1.5 h rejected (logged, none verified: 0); station N (at G3) nothing
      logged (null).
    * work days: team A on 15 and 20 January, 5 March and 30 June (3 of 6 months); team B on 20 Dec 2025 only.
    """
    department = await make_department(db, institution)
    worker = await make_social_worker(db, department)

    def case(resident: Any, opened: datetime, closed: datetime | None = None) -> SocialWorkCase:
        row = SocialWorkCase(
            id=uuid.uuid4(),
            district_id=district.id,
            department_id=department.id,
            institution_id=institution.id,
            org_unit_id=department.org_unit_id,
            status="closed" if closed else "active",
            source="self",
            resident_id=resident.id if resident is not None else None,
            grid_id=resident.grid_id if resident is not None else None,
            client_name_enc=None if resident is not None else b"sealed",
            client_name_masked="患*",
            service_areas=["psychosocial"] if resident is not None else ["resource_integration"],
            risk_level="low",
            opened_at=opened,
            opened_by=worker.id,
            closed_at=closed,
        )
        db.add(row)
        return row

    c1 = case(res1, cn(2, 1), cn(5, 1))
    c2 = case(res3, cn(3, 1))
    case(None, cn(4, 1))
    case(res1, cn(10, 1, year=2025), cn(12, 1, year=2025))
    await db.flush()

    def transfer(c: SocialWorkCase, resident: Any, offered: datetime, **over: Any) -> None:
        row = Transfer(
            id=uuid.uuid4(),
            case_id=c.id,
            department_id=department.id,
            district_id=district.id,
            resident_id=resident.id,
            grid_id=resident.grid_id,
            village_id=v1.id,
            status=over.pop("status", "offered"),
            scope="summary",
            summary_enc=b"",
            consent_by="patient",
            consent_method="written",
            consent_at=offered,
            to_team_id=team_a.id,
            discharged_at=offered,
            offered_at=offered,
            offered_by=worker.id,
            **{k: v for k, v in over.items() if k not in ("met_at", "breached_at")},
        )
        db.add(row)
        db.add(
            Deadline(
                subject_type=TRANSFER_SUBJECT,
                subject_id=row.id,
                kind=TRANSFER_FOLLOW_UP,
                policy={},
                district_id=district.id,
                started_at=offered,
                due_at=offered + timedelta(hours=48),
                met_at=over.get("met_at"),
                breached_at=over.get("breached_at"),
                state="met" if over.get("met_at") else "breached",
            )
        )

    transfer(
        c1,
        res1,
        cn(5, 1),
        status="followed_up",
        receipt_no="HZ-1",
        answered_at=cn(5, 1, 8),
        followed_up_at=cn(5, 2),
        met_at=cn(5, 2),
    )
    transfer(c2, res3, cn(6, 1), breached_at=cn(6, 3))

    clinic = await make_department(db, await make_institution(db, v1, kind=InstitutionKind.SOCIAL_CLINIC))
    await make_institution(db, g3, kind=InstitutionKind.NURSING_STATION)  # no department, nothing logged

    async def volunteer(dept: Any, name: str) -> Volunteer:
        row = Volunteer(
            name=name,
            registered_on=date(2025, 12, 1),
            department_id=dept.id,
            institution_id=dept.institution_id,
            org_unit_id=dept.org_unit_id,
            district_id=dept.district_id,
        )
        db.add(row)
        await db.flush()
        return row

    def hours(v: Volunteer, on: date, amount: str, status: str) -> None:
        db.add(
            VolunteerHours(
                volunteer_id=v.id,
                served_on=on,
                hours=Decimal(amount),
                activity="导诊",
                status=status,
                submitted_at=datetime.combine(on, datetime.min.time(), tzinfo=CHINA_TIME),
                submitted_by=worker.id,
                department_id=v.department_id,
                institution_id=v.institution_id,
                org_unit_id=v.org_unit_id,
                district_id=v.district_id,
            )
        )

    mine, theirs = await volunteer(department, "甲"), await volunteer(clinic, "乙")
    hours(mine, date(2026, 3, 1), "2.5", "verified")
    hours(mine, date(2026, 3, 5), "3", "rejected")
    hours(mine, date(2026, 6, 30), "4", "submitted")
    hours(mine, date(2025, 12, 31), "8", "verified")
    hours(theirs, date(2026, 2, 1), "1.5", "rejected")

    for team, day in (
        (team_a, date(2026, 1, 15)),
        (team_a, date(2026, 1, 20)),
        (team_a, date(2026, 3, 5)),
        (team_a, date(2026, 6, 30)),
        (team_b, date(2025, 12, 20)),
    ):
        db.add(
            WorkDay(
                district_id=district.id,
                team_id=team.id,
                held_on=day,
                activities=["义诊"],
                residents_served=5,
                recorded_by=worker.id,
            )
        )
    await db.flush()


def _referral(world_ids: dict[str, Any], direction: str, **over: Any) -> Referral:
    values: dict[str, Any] = {
        "district_id": world_ids["district"],
        "direction": direction,
        "status": "requested",
        "resident_id": world_ids["resident"],
        "grid_id": world_ids["grid"],
        "village_id": world_ids["village"],
        "town_id": world_ids["town"],
        "from_institution_id": world_ids["primary"] if direction == "upward" else world_ids["hospital"],
        "from_team_id": world_ids["team"] if direction == "upward" else None,
        "to_institution_id": world_ids["hospital"] if direction == "upward" else world_ids["primary"],
        "to_team_id": None if direction == "upward" else world_ids["team"],
        "urgency": "routine",
        "reason_enc": b"x",
        "consent_by": "patient",
        "consent_method": "written",
        "consent_at": over["requested_at"],
        "consent_recorded_by": world_ids["user"],
        "requested_by": world_ids["user"],
        "body_digest": "0" * 64,
    }
    values.update(over)
    return Referral(**values)


async def build_supervision_world(db: AsyncSession) -> SupervisionWorld:
    """Build the world with the clock at ``BUILT_AT``; the caller moves time on (``AFTER``)."""
    clock.freeze(BUILT_AT)
    district = await make_district(db)
    town = await make_child(db, district, number=1, name="龙溪街道")
    other_town = await make_child(db, district, number=2, name="双凤桥街道")
    v1 = await make_child(db, town, number=1, name="松石社区")
    v2 = await make_child(db, town, number=2, name="花卉园社区")
    g1 = await make_child(db, v1, number=1, name="松石一网格")
    g2 = await make_child(db, v1, number=2, name="松石二网格")
    g3 = await make_child(db, v2, number=1, name="花卉一网格")
    other_village = await make_child(db, other_town, number=1)
    await make_child(db, other_village, number=1)
    institution = await make_institution(db, town)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    team_a = await make_team(db, institution)
    team_b = await make_team(db, institution)
    leader_a = await make_member(db, team_a, await make_staff(db, institution), role="leader", starts_at=BUILT_AT)
    member_a = await make_member(db, team_a, await make_staff(db, institution), starts_at=BUILT_AT)
    steward_person = await make_staff(db, institution)
    steward_row = InstitutionSteward(
        institution_id=institution.id, person_id=steward_person.id, starts_at=BUILT_AT, district_id=district.id
    )
    db.add(steward_row)
    await db.flush()

    await make_assignment(db, team_a, v1, starts_at=cn(12, 1, year=2025))
    await make_assignment(db, team_a, g2, starts_at=cn(1, 1), ends_at=cn(4, 1))
    await make_assignment(db, team_b, g2, starts_at=cn(4, 1))

    def pair(kind: str, role: Any, unit: Any, *, member: Any = None, steward: Any = None, **period: Any) -> None:
        db.add(
            Pairing(
                kind=kind,
                team_member_id=member.id if member else None,
                institution_steward_id=steward.id if steward else None,
                community_role_id=role.id,
                org_unit_id=unit.id,
                starts_at=period.get("starts_at", BUILT_AT),
                ends_at=period.get("ends_at"),
                district_id=district.id,
            )
        )

    s1 = await make_community_role(db, "sentinel", g1, starts_at=BUILT_AT)
    pair("member_sentinel", s1, g1, member=member_a)
    await make_community_role(db, "sentinel", g2, starts_at=BUILT_AT)  # s2, never paired
    s3 = await make_community_role(db, "sentinel", g2, starts_at=BUILT_AT)
    pair("member_sentinel", s3, g2, member=member_a)
    leader_g1 = await make_community_role(db, "grid_leader", g1, starts_at=BUILT_AT)
    pair("leaders", leader_g1, g1, member=leader_a)
    await make_community_role(db, "grid_leader", g2, starts_at=BUILT_AT)
    steward_v1 = await make_community_role(db, "community_steward", v1, starts_at=BUILT_AT)
    pair("stewards", steward_v1, v1, steward=steward_row)
    await db.flush()
    # s3 leaves on 1 March (and the pairing with it)
    from sqlalchemy import update

    from services.core.assignments.models import CommunityRole

    await db.execute(update(CommunityRole).where(CommunityRole.id == s3.id).values(ends_at=cn(3, 1)))
    await db.execute(update(Pairing).where(Pairing.community_role_id == s3.id).values(ends_at=cn(3, 1)))

    supervisor = await make_user(db, Role.TOWN_SUPERVISOR, town)
    other_supervisor = await make_user(db, Role.TOWN_SUPERVISOR, other_town)
    commission = await make_user(db, Role.DISTRICT_COMMISSION, district)
    steward_user = await make_user(db, Role.INSTITUTION_STEWARD, town)
    from services.core.teams.models import Person

    await db.execute(update(Person).where(Person.id == steward_person.id).values(user_id=steward_user.id))
    owner = await make_user(db, Role.COMMUNITY_STEWARD, v1)

    reports = {
        "r1": await _report(
            db,
            g1,
            v1,
            town,
            team_a,
            supervisor,
            category="health_need",
            submitted_at=cn(2, 1, 10),
            reported_in_after=1,
            followed_up_after=10,
            closed_at=cn(2, 5),
        ),
        "r2": await _report(
            db,
            g2,
            v1,
            town,
            team_a,
            supervisor,
            category="urgent_risk",
            submitted_at=cn(3, 1, 8),
            reported_in_after=3,
            followed_up_after=60,
        ),
        "r3": await _report(db, g2, v1, town, team_b, supervisor, category="health_need", submitted_at=cn(5, 1, 9)),
        "r4": await _report(db, g1, v1, town, team_a, supervisor, category="other", submitted_at=cn(6, 30, 20)),
        "r5": await _report(
            db,
            g1,
            v1,
            town,
            team_a,
            supervisor,
            category="health_need",
            submitted_at=cn(1, 10, 9),
            cancelled_at=cn(1, 10, 10),
        ),
        "r6": await _report(
            db,
            g1,
            v1,
            town,
            team_a,
            supervisor,
            category="health_need",
            submitted_at=cn(12, 30, 9, year=2025),
            reported_in_after=1,
            followed_up_after=2,
        ),
        "r7": await _report(
            db,
            g1,
            v1,
            town,
            team_a,
            supervisor,
            category="medicine_delivery",
            submitted_at=cn(3, 10, 9),
            reported_in_after=2,
            followed_up_after=5,
            closed_at=cn(7, 5),
        ),
    }

    res1 = await make_resident(db, g1)
    await make_resident(db, g1)  # res2: never signed
    res3 = await make_resident(db, g2)
    await make_resident(db, g3)  # res4: never signed
    sign1 = await make_signing(
        db, res1, team_a, signed_by=supervisor.id, starts_on=date(2025, 6, 1), ends_on=date(2026, 12, 31)
    )
    sign3 = await make_signing(db, res3, team_b, signed_by=supervisor.id, starts_on=date(2026, 4, 15))

    def contact(resident: Any, signing: Any, team: Any, outcome: str, at: datetime) -> None:
        db.add(
            Contact(
                district_id=district.id,
                resident_id=resident.id,
                signing_id=signing.id,
                team_id=team.id,
                channel="phone",
                outcome=outcome,
                contacted_at=at,
                recorded_by=supervisor.id,
                team_member_id=member_a.id,
            )
        )

    contact(res1, sign1, team_a, "reached", cn(2, 10))
    contact(res1, sign1, team_a, "unreachable", cn(5, 10))
    contact(res3, sign3, team_b, "refused", cn(5, 20))

    ids = {
        "district": district.id,
        "resident": res1.id,
        "grid": g1.id,
        "village": v1.id,
        "town": town.id,
        "primary": institution.id,
        "hospital": hospital.id,
        "team": team_a.id,
        "user": supervisor.id,
    }
    db.add_all(
        [
            _referral(
                ids, "upward", requested_at=cn(2, 1), decided_at=cn(2, 2), appointment_at=cn(2, 10), status="accepted"
            ),
            _referral(ids, "downward", requested_at=cn(5, 1), discharged_at=cn(5, 2), first_follow_up_at=cn(5, 3)),
            _referral(ids, "downward", requested_at=cn(6, 1), discharged_at=cn(6, 2)),
        ]
    )
    clock.freeze(cn(2, 1))
    db.add(
        RectificationItem(
            district_id=district.id,
            town_id=town.id,
            org_unit_id=v2.id,
            problem="补齐健康管家",
            owner_id=owner.id,
            due_on=date(2026, 3, 31),
            created_by=supervisor.id,
            status="verified",
            verified_at=cn(5, 1),
            verified_by=supervisor.id,
        )
    )
    clock.freeze(cn(3, 1))
    db.add(
        RectificationItem(
            district_id=district.id,
            town_id=town.id,
            org_unit_id=v1.id,
            problem="哨兵结对",
            owner_id=owner.id,
            due_on=date(2026, 4, 30),
            created_by=supervisor.id,
        )
    )
    await db.flush()
    await _social_work_volunteers_and_work_days(db, district, institution, v1, g3, res1, res3, team_a, team_b)
    clock.freeze(AFTER)
    return SupervisionWorld(
        district=snapshot(district),
        town=snapshot(town),
        other_town=snapshot(other_town),
        v1=snapshot(v1),
        v2=snapshot(v2),
        g1=snapshot(g1),
        g2=snapshot(g2),
        g3=snapshot(g3),
        team_a=team_a,
        team_b=team_b,
        supervisor=snapshot(supervisor),
        other_supervisor=snapshot(other_supervisor),
        commission=snapshot(commission),
        steward=snapshot(steward_user),
        owner=snapshot(owner),
        reports=reports,
    )
