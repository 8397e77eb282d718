"""Org units, and the institutions sitting in them.

An org unit's ``path`` is the chain of codes from the district down (``/500112/.../``):
scope checks become one indexed prefix match instead of a recursive query."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class OrgUnitKind(StrEnum):
    DISTRICT = "district"
    TOWN = "town"
    VILLAGE = "village"
    GRID = "grid"


class OrgUnitCategory(StrEnum):
    """What the unit is called locally: a town (镇) or a subdistrict (街道), etc."""

    DISTRICT = "district"
    TOWN = "town"
    SUBDISTRICT = "subdistrict"
    VILLAGE = "village"
    COMMUNITY = "community"
    GRID = "grid"


CATEGORIES_OF = {
    OrgUnitKind.DISTRICT: {OrgUnitCategory.DISTRICT},
    OrgUnitKind.TOWN: {OrgUnitCategory.TOWN, OrgUnitCategory.SUBDISTRICT},
    OrgUnitKind.VILLAGE: {OrgUnitCategory.VILLAGE, OrgUnitCategory.COMMUNITY},
    OrgUnitKind.GRID: {OrgUnitCategory.GRID},
}


class OrgUnit(TimestampMixin, Base):
    __tablename__ = "org_unit"
    __table_args__ = (
        CheckConstraint("kind in ('district','town','village','grid')", name="kind"),
        CheckConstraint("(kind = 'district') = (parent_id is null)", name="parent_iff_not_district"),
        Index("ix_org_unit_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_org_unit_parent_id_name", "parent_id", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_unit.id"))
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Institution(TimestampMixin, Base):
    """A medical institution sitting in an org unit (the district or a town)."""

    __tablename__ = "institution"
    __table_args__ = (
        CheckConstraint(
            "kind in ('district_hospital','tcm_hospital','maternal_child','cdc','township_health_center',"
            "'community_health_center','social_clinic','nursing_station')",
            name="kind",
        ),
        CheckConstraint("level in ('district','primary','social')", name="level"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
