"""The development district: Yubei (500112) with its 30 towns and an administrator.

Runs only when the database holds no district, so a second ``make run`` changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.security import users
from services.core.security.roles import Role
from services.core.security.schemas import GrantCreate, UserCreate

TOWNS_CSV = Path(__file__).parent / "data" / "yubei-towns.csv"
DEMO_PASSWORD = "gridcare-demo-2026"  # noqa: S105 - printed demo login, dev only


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    where: str


async def bootstrap_demo(db: AsyncSession) -> list[DemoLogin]:
    """Create the demo district if the database has none; return the demo logins."""
    if await db.scalar(select(OrgUnit.id).where(OrgUnit.kind == OrgUnitKind.DISTRICT).limit(1)):
        return []
    district = await org_service.create_district(db, code="500112", name="渝北区")
    towns: list[OrgUnit] = []
    with TOWNS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["code"] + "000"
            category = OrgUnitCategory.SUBDISTRICT if row["name"].endswith("街道") else OrgUnitCategory.TOWN
            town = OrgUnit(
                kind=OrgUnitKind.TOWN,
                category=category,
                code=code,
                name=row["name"],
                parent_id=district.id,
                district_id=district.id,
                path=f"{district.path}{code}/",
            )
            db.add(town)
            towns.append(town)
    await db.flush()
    logins = [
        (Role.DISTRICT_ADMIN, "admin", "渝北区卫健委 管理员", district),
        (Role.DISTRICT_COMMISSION, "commission", "渝北区卫健委 督导", district),
        (Role.AUDITOR, "auditor", "数据安全审计员", district),
        (Role.TOWN_SUPERVISOR, "town1", f"{towns[0].name} 督导", towns[0]),
        (Role.TOWN_SUPERVISOR, "town2", f"{towns[1].name} 督导", towns[1]),
    ]
    for role, username, name, unit in logins:
        await users.create_user(
            db,
            None,
            UserCreate(
                username=username,
                display_name=name,
                secret=DEMO_PASSWORD,
                org_unit_id=unit.id,
                grants=[GrantCreate(role=role, org_unit_id=unit.id)],
            ),
        )
    return [DemoLogin(username=u, role=r.value, where=unit.name) for r, u, _, unit in logins]
