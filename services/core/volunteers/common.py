"""Helpers the record modules of this package share: China's calendar day, the department a record
belongs to, and whether an account works in a department."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, periods
from services.core.accounts.models import RoleGrant
from services.core.security.roles import ROLE_PERMISSIONS, Permission

CHINA = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today on China's calendar (service days and certificate expiry are China's dates)."""
    return clock.now().astimezone(CHINA).date()


def start_of(day: date) -> datetime:
    """The instant China's ``day`` begins."""
    return datetime.combine(day, time(), tzinfo=CHINA).astimezone(UTC)


def department_columns(department: object) -> dict[str, uuid.UUID]:
    """The scope and metrics columns a department's record copies from it."""
    return {
        "department_id": department.id,  # type: ignore[attr-defined]
        "institution_id": department.institution_id,  # type: ignore[attr-defined]
        "org_unit_id": department.org_unit_id,  # type: ignore[attr-defined]
        "district_id": department.district_id,  # type: ignore[attr-defined]
    }


async def holds_at_institution(
    db: AsyncSession, user_id: uuid.UUID, permission: Permission, institution_id: uuid.UUID
) -> bool:
    """Whether ``user_id`` holds, now, a grant naming ``institution_id`` whose role has ``permission``:
    a social worker of that department (for a pairing), a volunteer's login there (for a link)."""
    roles = [role.value for role, permissions in ROLE_PERMISSIONS.items() if permission in permissions]
    found = await db.scalar(
        select(RoleGrant.id)
        .where(
            RoleGrant.user_id == user_id,
            RoleGrant.institution_id == institution_id,
            RoleGrant.role.in_(roles),
            periods.active_at(RoleGrant, clock.now()),
        )
        .limit(1)
    )
    return found is not None
