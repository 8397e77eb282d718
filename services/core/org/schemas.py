"""Org-unit request and response models."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.org.models import OrgUnitCategory, OrgUnitKind
from services.core.text import RequestModel

CODE_PATTERN = r"^[0-9]{12}(?:[0-9]{3})?$"  # 12 digits (town, village), 15 (grid)


class OrgUnitCreate(RequestModel):
    id: uuid.UUID | None = Field(
        default=None,
        description="Client-chosen id; repeating a create with the same id and body is safe.",
    )
    parent_id: uuid.UUID = Field(description="The town, village or district this unit sits under.")
    code: str = Field(
        min_length=6,
        max_length=15,
        description="12 digits for towns and villages, 15 for grids.",
        json_schema_extra={"pattern": CODE_PATTERN},
    )
    name: str = Field(min_length=1, max_length=100)
    category: OrgUnitCategory | None = Field(
        default=None,
        description="town/subdistrict, village/community; defaults to the kind itself.",
    )


class OrgUnitUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    category: OrgUnitCategory | None = None


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: OrgUnitKind
    category: OrgUnitCategory
    code: str
    name: str
    parent_id: uuid.UUID | None
    district_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime
