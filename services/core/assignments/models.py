"""Responsibility, community roles and pairings: each a row with a half-open period.

No EXCLUDE constraint guards overlapping periods (the embedded PostgreSQL has no
btree_gist); the service checks overlaps while holding a row lock on the org unit
concerned, so two concurrent writers for one unit are serialised.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class CommunityRoleKind(StrEnum):
    COMMUNITY_STEWARD = "community_steward"
    GRID_LEADER = "grid_leader"
    SENTINEL = "sentinel"


class PairingKind(StrEnum):
    """institution steward <-> community steward; team leader <-> grid leader; member <-> sentinel."""

    STEWARDS = "stewards"
    LEADERS = "leaders"
    MEMBER_SENTINEL = "member_sentinel"


class Responsibility(TimestampMixin, Base):
    """A team responsible for a village (covering its grids) or one grid (overriding the village's)."""

    __tablename__ = "responsibility"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("unit_kind in ('village','grid')", name="unit_kind"),
        Index("ix_responsibility_org_unit_id_starts_at", "org_unit_id", "starts_at"),
        Index("ix_responsibility_team_id_starts_at", "team_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    unit_kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class CommunityRole(TimestampMixin, Base):
    """A community steward of a village, a grid leader or a sentinel of a grid, for a period."""

    __tablename__ = "community_role"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("role in ('community_steward','grid_leader','sentinel')", name="role"),
        Index("ix_community_role_org_unit_id_role_starts_at", "org_unit_id", "role", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    role: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Pairing(TimestampMixin, Base):
    """One of the three horizontal pairings; the medical side is a steward or a team member row,
    the community side a community role row. ``org_unit_id`` is the community side's unit."""

    __tablename__ = "pairing"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("kind in ('stewards','leaders','member_sentinel')", name="kind"),
        CheckConstraint(
            "(kind = 'stewards') = (institution_steward_id is not null and team_member_id is null)",
            name="medical_side",
        ),
        Index("ix_pairing_community_role_id_starts_at", "community_role_id", "starts_at"),
        Index("ix_pairing_team_member_id_starts_at", "team_member_id", "starts_at"),
        Index("ix_pairing_org_unit_id", "org_unit_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    institution_steward_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institution_steward.id"))
    team_member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team_member.id"))
    community_role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_role.id"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
