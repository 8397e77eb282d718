"""Inbox responses."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationRead(BaseModel):
    """One inbox item."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="What happened, e.g. `deadline.reminder`, `deadline.breach`.")
    title: str
    body: str
    subject_type: str | None = Field(description="The kind of record it is about, e.g. `report`.")
    subject_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None = Field(description="Absent while unread.")


class InboxChanges(BaseModel):
    """Items created or changed since a sync cursor; keep ``cursor`` for the next sync."""

    items: list[NotificationRead]
    cursor: str = Field(description="Pass back as `since` next time; the first sync omits `since`.")
    has_more: bool = Field(description="More changes are waiting: sync again at once with `cursor`.")


class ReadAllResult(BaseModel):
    marked: int = Field(description="How many unread items were marked read.")
