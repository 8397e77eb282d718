"""Requests and answers of supervision: snapshots, the roll-up's readiness, rectification items."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.core.supervision.halves import PATTERN
from services.core.supervision.models import ItemStatus, SnapshotKind, SnapshotStatus
from services.core.text import Date, RequestModel

PERIOD_FIELD = Field(pattern=PATTERN, description="A half year: `2026H1` (January–June) or `2026H2` (July–December).")


class BulletinBrief(BaseModel):
    """A stored snapshot without its figures."""

    id: uuid.UUID
    kind: SnapshotKind
    org_unit_id: uuid.UUID
    period: str
    edition: int = Field(description="1, then 2 for the first correction, ...")
    status: SnapshotStatus
    definitions_version: str
    content_hash: str = Field(
        description="SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of "
        "kind, org_unit_id, period, definitions_version, figures and source_counts."
    )
    produced_at: datetime
    supersedes_id: uuid.UUID | None
    correction_reason: str | None
    issued_at: datetime | None
    acknowledged_at: datetime | None
    version: int


class BulletinRead(BulletinBrief):
    """A stored snapshot with its frozen figures and the counts of the source rows it read."""

    period_starts_at: datetime
    period_ends_at: datetime
    figures: dict[str, Any]
    source_counts: dict[str, int]
    editions: list[uuid.UUID] = Field(description="Every edition of this snapshot, oldest first.")


class BulletinDraftRead(BaseModel):
    """A town's figures as of now (not stored): the draft of the running half year."""

    org_unit_id: uuid.UUID
    period: str
    definitions_version: str
    figures: dict[str, Any]
    source_counts: dict[str, int]


class TownBrief(BaseModel):
    id: uuid.UUID
    name: str
    bulletin_id: uuid.UUID | None
    status: SnapshotStatus | None


class RollupStatus(BaseModel):
    """Whether the district roll-up of a half year is ready, and the towns it still waits for."""

    district_id: uuid.UUID
    period: str
    ready: bool
    missing_towns: list[TownBrief]
    rollup_id: uuid.UUID | None
    rollup_stale: bool = Field(
        description="A town bulletin was corrected after the roll-up: correct the roll-up to reference its new edition."
    )


class Correction(RequestModel):
    reason: str = Field(min_length=2, max_length=500, description="Why the bulletin is corrected (shown to readers).")


class ItemCreate(RequestModel):
    """A ledger item: by hand, or from a bulletin's attention list (``bulletin_id`` + the listed unit)."""

    id: uuid.UUID | None = Field(default=None, description="A client-chosen id: a retry with it is the same item.")
    bulletin_id: uuid.UUID | None = None
    org_unit_id: uuid.UUID | None = Field(default=None, description="The village (or grid) concerned.")
    team_id: uuid.UUID | None = Field(default=None, description="The team concerned.")
    problem: str | None = Field(
        default=None, min_length=2, max_length=2000, description="Defaults to the attention list's reasons."
    )
    owner_id: uuid.UUID = Field(description="The account responsible for the rectification.")
    due_on: Date


class ItemResolve(RequestModel):
    evidence: str = Field(min_length=2, max_length=4000, description="What was done, and where the proof is.")


class ItemReopen(RequestModel):
    reason: str = Field(min_length=2, max_length=500)


class ItemRead(BaseModel):
    id: uuid.UUID
    town_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    team_id: uuid.UUID | None
    bulletin_id: uuid.UUID | None
    problem: str
    owner_id: uuid.UUID
    due_on: date
    overdue: bool
    status: ItemStatus
    evidence: str | None
    resolved_at: datetime | None
    verified_at: datetime | None
    reopened: int
    created_at: datetime
    version: int
