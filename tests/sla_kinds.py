"""A deadline kind for tests: audiences resolve to users by role anywhere in the deadline's district.

Imported by the tests and by worker subprocesses started in fault tests. When
GRIDCARE_TEST_HANG_FILE is set, the handler writes that file and then hangs, so a test
can kill the worker in the middle of a step.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import RoleGrant
from services.core.deadlines.kinds import deadline_kind, deadline_kind_many
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import Step
from services.core.org.models import OrgUnit
from services.core.security.roles import Role

KIND = "test.follow_up"

AUDIENCE_ROLES: dict[str, tuple[Role, ...]] = {
    "responsible": (Role.TEAM_MEMBER,),
    "team": (Role.TEAM_MEMBER, Role.TEAM_LEADER),
    "team_leader": (Role.TEAM_LEADER,),
    "institution_steward": (Role.INSTITUTION_STEWARD,),
    "community_steward": (Role.COMMUNITY_STEWARD,),
    "district_commission": (Role.DISTRICT_COMMISSION,),
}


@deadline_kind(KIND)
async def test_follow_up(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    hang = os.environ.get("GRIDCARE_TEST_HANG_FILE")
    if hang:
        Path(hang).write_text(step.name)
        await asyncio.Event().wait()  # blocks until the test kills this worker mid-job
    roles = [r.value for a in step.audience for r in AUDIENCE_ROLES.get(a, ())]
    stmt = (
        select(RoleGrant.user_id)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(OrgUnit.district_id == deadline.district_id, RoleGrant.role.in_(roles), RoleGrant.ends_at.is_(None))
        .order_by(RoleGrant.user_id)
    )
    return list(await db.scalars(stmt))


@deadline_kind_many(KIND)
async def test_follow_up_many(db: AsyncSession, pairs: Sequence[tuple[Deadline, Step]]) -> list[list[uuid.UUID]]:
    """The same answer as ``test_follow_up``, one query per distinct (district, audience) in the batch."""
    hang = os.environ.get("GRIDCARE_TEST_HANG_FILE")
    if hang and pairs:
        Path(hang).write_text(pairs[0][1].name)
        await asyncio.Event().wait()
    found: dict[tuple[uuid.UUID, tuple[str, ...]], list[uuid.UUID]] = {}
    answers = []
    for deadline, step in pairs:
        key = (deadline.district_id, step.audience)
        if key not in found:
            roles = [r.value for a in step.audience for r in AUDIENCE_ROLES.get(a, ())]
            stmt = (
                select(RoleGrant.user_id)
                .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
                .where(
                    OrgUnit.district_id == deadline.district_id,
                    RoleGrant.role.in_(roles),
                    RoleGrant.ends_at.is_(None),
                )
                .order_by(RoleGrant.user_id)
            )
            found[key] = list(await db.scalars(stmt))
        answers.append(found[key])
    return answers
