"""Request and response models for medical social work."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.text import Date, RequestModel

_CLIENT_ID = Field(default=None, description="Client-chosen id; repeating a create with the same id and body is safe.")


class DepartmentCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    institution_id: uuid.UUID = Field(description="The institution the department belongs to (one each).")
    name: str = Field(min_length=1, max_length=100, description="e.g. 社会工作部")
    is_station: bool = Field(
        default=False, description="A community social-work station (社区社工站) taking discharged patients over."
    )
    established_on: Date | None = None


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    is_station: bool
    established_on: date | None
    org_unit_id: uuid.UUID
    district_id: uuid.UUID
    created_at: datetime
    version: int


class DepartmentGap(BaseModel):
    """An institution that must have a social-work department and has none."""

    institution_id: uuid.UUID
    name: str
    kind: str
    org_unit_id: uuid.UUID
