"""A small district for organisation tests: two towns, villages, grids, and an admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from tests.factories import make_child, make_district, make_user, snapshot


@dataclass
class World:
    district: Any
    town_a: Any
    village_a1: Any
    grid_a1_1: Any
    grid_a1_2: Any
    village_a2: Any
    grid_a2_1: Any
    town_b: Any
    village_b1: Any
    grid_b1_1: Any
    admin: Any


async def build_world(db: AsyncSession) -> World:
    """District > towns A, B > villages > grids, and a district admin."""
    district = await make_district(db)
    town_a = await make_child(db, district, number=1)
    village_a1 = await make_child(db, town_a, number=1)
    village_a2 = await make_child(db, town_a, number=2)
    town_b = await make_child(db, district, number=2)
    village_b1 = await make_child(db, town_b, number=1)
    world = World(
        district=district,
        town_a=town_a,
        village_a1=village_a1,
        grid_a1_1=await make_child(db, village_a1, number=1),
        grid_a1_2=await make_child(db, village_a1, number=2),
        village_a2=village_a2,
        grid_a2_1=await make_child(db, village_a2, number=1),
        town_b=town_b,
        village_b1=village_b1,
        grid_b1_1=await make_child(db, village_b1, number=1),
        admin=await make_user(db, Role.DISTRICT_ADMIN, district),
    )
    for name, value in vars(world).items():
        setattr(world, name, snapshot(value))
    await db.commit()  # a failed API request rolls back to the last commit, as in production
    return world
