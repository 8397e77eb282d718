"""A district for social-work tests: the referral world (a town's health centre whose team is responsible
for a village, a signed resident, the district people's hospital) plus the hospital's social-work
department with two social workers and a supervisor, a second hospital's department with its own
supervisor, the village's community steward with an account, an auditor and the commission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from tests.factories import (
    make_community_role,
    make_department,
    make_resident,
    make_social_worker,
    make_user,
    make_worker,
    snapshot,
)
from tests.referral_world import ReferralWorld, build_referral_world
from tests.report_world import linked


@dataclass
class SocialWorkWorld:
    base: ReferralWorld
    department: Any  # the district hospital's 社会工作部
    worker: Any  # the case's social worker
    colleague: Any  # another social worker of the same department
    supervisor: Any
    other_department: Any  # the TCM hospital's
    other_supervisor: Any
    steward: Any  # the village's community steward (an account)
    auditor: Any
    patient: Any  # a second resident of the same grid


async def build_social_work_world(db: AsyncSession, *, at: datetime) -> SocialWorkWorld:
    """Every period starting at ``at``."""
    base = await build_referral_world(db, at=at)
    department = await make_department(db, base.hospital)
    other_department = await make_department(db, base.other_hospital)
    worker = await make_social_worker(db, department)
    colleague = await make_social_worker(db, department)
    supervisor = await make_social_worker(db, department, role=Role.SOCIAL_WORK_SUPERVISOR)
    other_supervisor = await make_social_worker(db, other_department, role=Role.SOCIAL_WORK_SUPERVISOR)
    steward_person = await make_worker(db, base.village)
    await make_community_role(db, "community_steward", base.village, steward_person, starts_at=at)
    steward = await make_user(db, Role.COMMUNITY_STEWARD, base.village)
    await linked(db, steward_person, steward)
    auditor = await make_user(db, Role.AUDITOR, base.district)
    patient = await make_resident(db, base.grid)
    await db.flush()
    return SocialWorkWorld(
        base=base,
        department=department,
        worker=snapshot(worker),
        colleague=snapshot(colleague),
        supervisor=snapshot(supervisor),
        other_department=other_department,
        other_supervisor=snapshot(other_supervisor),
        steward=snapshot(steward),
        auditor=snapshot(auditor),
        patient=snapshot(patient),
    )
