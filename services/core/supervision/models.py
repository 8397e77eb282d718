"""Stored snapshots (town bulletins, district roll-ups, team assessments) and rectification items.

A snapshot is written once and never updated in its content: ``figures``, ``source_counts``,
``definitions_version`` and ``content_hash`` are frozen from the insert. Only its state moves
(``draft -> issued -> acknowledged``, or ``superseded`` by a correction, which is a new row with
the next ``edition``). ``(kind, org_unit_id, period, edition)`` is unique, so a period produced
twice, by two workers at once or after Redis lost its queue, is one row.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class SnapshotKind(StrEnum):
    TOWN = "town"  # a town's supervision bulletin (督导通报)
    DISTRICT = "district"  # the district roll-up comparing towns
    ASSESSMENT = "assessment"  # the district's family doctor team assessment (考核)


class SnapshotStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    SUPERSEDED = "superseded"


class ItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Bulletin(TimestampMixin, Base):
    """One version of one snapshot for one unit (a town, or the district) and one half year."""

    __tablename__ = "supervision_bulletin"
    __table_args__ = (
        CheckConstraint(f"kind in ({_in(SnapshotKind)})", name="kind"),
        CheckConstraint(f"status in ({_in(SnapshotStatus)})", name="status"),
        CheckConstraint("period ~ '^[0-9]{4}H[12]$'", name="period"),
        CheckConstraint("(edition = 1) = (supersedes_id is null)", name="correction_has_origin"),
        CheckConstraint("edition = 1 or correction_reason is not null", name="correction_has_reason"),
        UniqueConstraint("kind", "org_unit_id", "period", "edition"),
        Index("ix_supervision_bulletin_district_id_period", "district_id", "period"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID]
    period: Mapped[str] = mapped_column(String(6))
    period_starts_at: Mapped[datetime]
    period_ends_at: Mapped[datetime]
    # The snapshot's version in the plan's sense: 1, then 2 for the first correction, ...
    edition: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=SnapshotStatus.DRAFT.value)
    definitions_version: Mapped[str] = mapped_column(String(16))
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(64))
    produced_at: Mapped[datetime]
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("supervision_bulletin.id"))
    correction_reason: Mapped[str | None] = mapped_column(String(500))
    issued_at: Mapped[datetime | None]
    issued_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)  # the row's version (ETag / If-Match)

    __mapper_args__ = {"version_id_col": version}


class RectificationItem(TimestampMixin, Base):
    """A problem found in supervision, with its owner and due date, closed item by item (销号)."""

    __tablename__ = "rectification_item"
    __table_args__ = (
        CheckConstraint(f"status in ({_in(ItemStatus)})", name="status"),
        CheckConstraint("(org_unit_id is not null) or (team_id is not null)", name="village_or_team"),
        CheckConstraint("(status = 'verified') = (verified_at is not null)", name="verified_iff_verified_at"),
        Index("ix_rectification_item_town_id_status", "town_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID]
    town_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    org_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_unit.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id"))
    bulletin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("supervision_bulletin.id"), index=True)
    problem: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), index=True)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.OPEN.value)
    evidence: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    resolved_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    reopened: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
