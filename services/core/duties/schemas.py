"""Duty request and response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from services.core.assignments.schemas import UnitBrief
from services.core.duties.models import WorkDayActivity, YearlyDuty
from services.core.text import Date, Instant, RequestModel

# A livestream counts for the weekly duty from this length on (seed 003: 每周不少于30分钟).
LIVESTREAM_MINUTES = 30


class WorkDayCreate(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; repeating a create with it is safe.")
    held_on: Date = Field(description="The day it was held (China time); not in the future.")
    unit_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=2, description="The one or two villages or grids it was held in (the team's area)."
    )
    activities: list[WorkDayActivity] = Field(min_length=1, max_length=len(WorkDayActivity))
    residents_served: int = Field(ge=0, le=100_000, description="How many residents were served.")
    resident_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=500, description="Optional: residents served by name (in your scope)."
    )
    notes: str | None = Field(default=None, max_length=1000)


class WorkDayRead(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    held_on: date
    units: list[UnitBrief]
    activities: list[WorkDayActivity]
    residents_served: int
    resident_ids: list[uuid.UUID]
    notes: str | None
    recorded_by: uuid.UUID
    version: int
    created_at: datetime


class LivestreamCreate(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; repeating a create with it is safe.")
    started_at: Instant = Field(description="When it began; not in the future.")
    duration_minutes: int = Field(ge=1, le=24 * 60)
    topic: str = Field(min_length=1, max_length=200)
    questions_answered: int = Field(ge=0, le=100_000, description="Residents' questions answered live.")


class LivestreamRead(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    started_at: datetime
    duration_minutes: int
    topic: str
    questions_answered: int
    counts_for_week: bool = Field(description=f"At least {LIVESTREAM_MINUTES} minutes: it meets the weekly duty.")
    recorded_by: uuid.UUID
    version: int
    created_at: datetime


class SubmissionCreate(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; repeating a create with it is safe.")
    duty: YearlyDuty
    year: int = Field(ge=2020, le=2100, description="Not after next year.")
    org_unit_id: uuid.UUID = Field(description="The town (or subdistrict) it is for, in your scope.")
    institution_id: uuid.UUID | None = Field(default=None, description="The town's institution handing it in.")
    attachment_name: str | None = Field(default=None, min_length=1, max_length=200)
    content: str | None = Field(
        default=None, min_length=1, max_length=10_000, description="The text, when no attachment (one of the two)."
    )


class SubmissionRead(BaseModel):
    id: uuid.UUID
    duty: YearlyDuty
    year: int
    org_unit: UnitBrief
    institution_id: uuid.UUID | None
    attachment_name: str | None
    content: str | None
    submitted_by: uuid.UUID
    submitted_at: datetime
    due_on: date = Field(description="The last day it was due (China time).")
    late: bool
    version: int
    created_at: datetime


class WorkDayFiguresRead(BaseModel):
    days_held: int
    months_held: int
    villages_covered: int
    units_covered: int
    residents_served: int


class ContactDutyRead(BaseModel):
    quarter_starts_on: date
    quarter_ends_on: date = Field(description="The first day after the quarter.")
    on: date = Field(description="Residents signed on this day are counted (the quarter's last day, or today).")
    signed: int
    reached: int
    rate: float | None
    met: bool = Field(description="Every resident signed with the team was reached this quarter.")


class TeamDutyFigures(BaseModel):
    team_id: uuid.UUID
    name: str
    work_days: WorkDayFiguresRead
    contact_duty: list[ContactDutyRead]


class LivestreamFiguresRead(BaseModel):
    held: int
    qualifying: int = Field(description=f"At least {LIVESTREAM_MINUTES} minutes long.")
    minutes: int
    questions_answered: int
    weeks_met: int = Field(description="Weeks (Monday first, China time) with a qualifying livestream.")


class InstitutionDutyFigures(BaseModel):
    institution_id: uuid.UUID
    name: str
    livestreams: LivestreamFiguresRead


class DutyMetrics(BaseModel):
    org_unit: UnitBrief
    starts_on: date
    ends_on: date = Field(description="The first day after the period.")
    teams: list[TeamDutyFigures] = Field(description="Teams based in the unit, by name.")
    institutions: list[InstitutionDutyFigures] = Field(description="Institutions sitting in the unit, by name.")
