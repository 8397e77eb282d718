"""Resident request and response models. Identity numbers and phones only ever leave
masked here; the full values have their own, audited response (``IdentityRead``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.core.residents.identity import (
    EARLIEST_BIRTH,
    ID_NUMBER_DESCRIPTION,
    ID_NUMBER_PATTERN,
    PHONE_PATTERN,
    IdType,
    Sex,
)
from services.core.residents.models import KeyPopulation, RemovalReason, TagSource
from services.core.text import Date, RequestModel


class TagCreate(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; a repeat with the same body is safe.")
    population: KeyPopulation
    since_on: Date = Field(description="From when the resident belongs to the group.")
    until_on: Date | None = Field(default=None, description="Until when (inclusive); open when absent.")
    source: TagSource


class TagUpdate(RequestModel):
    since_on: Date | None = None
    until_on: Date | None = Field(default=None, description="Set to end the membership; null reopens it.")


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    population: KeyPopulation
    since_on: date
    until_on: date | None
    source: TagSource
    reported_by: uuid.UUID | None
    version: int


class ResidentCreate(RequestModel):
    id: uuid.UUID | None = Field(
        default=None, description="Client-chosen id; repeating a create with the same id and body is safe."
    )
    grid_id: uuid.UUID = Field(description="The grid the resident lives in.")
    name: str = Field(min_length=1, max_length=50)
    sex: Sex | None = Field(default=None, description="Taken from a resident ID when absent; must agree with it.")
    birth_on: Date | None = Field(
        default=None,
        ge=EARLIEST_BIRTH,
        description="Taken from a resident ID when absent; must agree with it. Required otherwise.",
    )
    id_type: IdType | None = Field(default=None, description="CV02.01.101; `01` when an id_number comes alone.")
    id_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="Stored encrypted.",
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
    )
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=30,
        description="Stored encrypted.",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    address: str | None = Field(default=None, max_length=200)
    household_code: str | None = Field(default=None, max_length=64, description="The household (户) number.")
    tags: list[TagCreate] = Field(default_factory=list, max_length=9)
    confirm_not_duplicate: bool = Field(
        default=False,
        description="Create even though a resident with the same name, birth date and grid exists "
        "(otherwise 409 `possible_duplicate`). Only consulted when there is no id_number.",
    )


class ResidentUpdate(RequestModel):
    grid_id: uuid.UUID | None = None
    name: str | None = Field(default=None, min_length=1, max_length=50)
    sex: Sex | None = None
    birth_on: Date | None = Field(default=None, ge=EARLIEST_BIRTH)
    id_type: IdType | None = None
    id_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
        description=ID_NUMBER_DESCRIPTION,
    )
    phone: str | None = Field(
        default=None, max_length=30, description="null clears it.", json_schema_extra={"pattern": PHONE_PATTERN}
    )
    address: str | None = Field(default=None, max_length=200)
    household_code: str | None = Field(default=None, max_length=64)
    died_on: Date | None = Field(
        default=None,
        description="The day the resident died (not before birth, not in the future); null undoes a mistaken entry. "
        "Phones then get a tombstone for the resident.",
    )


class ResidentView(StrEnum):
    """How much of the record the caller sees: `care` (care teams, administrators), or `sentinel`."""

    CARE = "care"
    SENTINEL = "sentinel"


class ResidentRead(BaseModel):
    id: uuid.UUID
    view: ResidentView
    district_id: uuid.UUID
    grid_id: uuid.UUID
    name: str
    sex: Sex | None = Field(description="Absent in the sentinel view.")
    birth_on: date | None = Field(
        description="Only for roles that may read full identity (with the masked ID it would give the number away)."
    )
    birth_year: int | None = Field(default=None, description="Absent in the sentinel view.")
    id_type: IdType | None
    id_number_masked: str | None = Field(description="e.g. `5001**********1234`; full value: GET …/identity.")
    phone_masked: str | None = Field(description="e.g. `138****5678`; absent in the sentinel view.")
    address: str | None
    household_code: str | None = Field(description="Absent in the sentinel view.")
    tags: list[TagRead] = Field(description="Key-population tags; a sentinel sees only those it reported.")
    died_on: date | None = Field(default=None, description="Set when the resident has died.")
    version: int
    created_at: datetime
    updated_at: datetime


class IdentityRead(BaseModel):
    """The full identity number and phone; every read of this is audited."""

    resident_id: uuid.UUID
    id_type: IdType | None
    id_number: str | None
    phone: str | None


class ResidentLookup(RequestModel):
    id_type: IdType = Field(default=IdType.RESIDENT_ID)
    id_number: str = Field(
        min_length=1,
        max_length=40,
        description="Sent in the body so it never reaches a URL log.",
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
    )


class ImportRowError(BaseModel):
    row: int = Field(description="1-based data row (the header of a sheet is not counted).")
    field: str
    message: str


class ImportSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowError]


class ResidentTombstone(BaseModel):
    """A resident who left the caller's area: delete your copy."""

    resident_id: uuid.UUID
    reason: RemovalReason = Field(
        description="`moved_out` (to a grid outside your area), `died`, or `deleted` (the record is gone)."
    )


class SyncPage(BaseModel):
    """Changes in the caller's area; keep `next_cursor` and send it next time, even when empty.

    Apply `removed` first, then `items`: a resident in `items` is in your area now, whatever
    happened before."""

    items: list[ResidentRead]
    removed: list[ResidentTombstone] = Field(
        description="Residents who left your area since the cursor (moved out, died, deleted), each once."
    )
    next_cursor: str = Field(description="Where to continue; send it back as `cursor`.")
    has_more: bool = Field(description="More changes are ready now; fetch again at once.")
