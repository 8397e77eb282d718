"""Signing and contact request and response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.core.assignments.schemas import UnitBrief
from services.core.residents.models import KeyPopulation
from services.core.signing.models import ContactChannel, ContactOutcome, ServicePackage, TerminationReason
from services.core.text import Date, Instant, RequestModel


class SigningStatus(StrEnum):
    """Where the signing stands today (China time)."""

    UPCOMING = "upcoming"
    ACTIVE = "active"
    ENDED = "ended"
    TERMINATED = "terminated"


class SigningCreate(RequestModel):
    id: uuid.UUID | None = Field(
        default=None, description="Client-chosen id; repeating a create with the same id and body is safe."
    )
    team_id: uuid.UUID = Field(description="Must be responsible for the resident's grid on `starts_on`.")
    package: ServicePackage
    starts_on: Date = Field(description="First day covered (China time).")
    ends_on: Date | None = Field(
        default=None,
        description="First day no longer covered; at least one year after `starts_on` (the default), at most five.",
    )


class SigningRenew(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id of the new signing; safe to repeat.")
    team_id: uuid.UUID | None = Field(default=None, description="Another team; the same one when absent.")
    package: ServicePackage | None = Field(default=None, description="Another package; the same one when absent.")
    ends_on: Date | None = Field(
        default=None, description="End of the new period; one year after the old contract's end when absent."
    )


class SigningTerminate(RequestModel):
    reason: TerminationReason
    ends_on: Date = Field(
        description="First day no longer covered: not before `starts_on`, not after the contracted end."
    )


class SigningRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    resident_id: uuid.UUID
    team_id: uuid.UUID
    package: ServicePackage
    starts_on: date
    ends_on: date = Field(description="First day no longer covered (earlier than the contract after a termination).")
    contracted_ends_on: date
    status: SigningStatus
    renews_id: uuid.UUID | None = Field(description="The signing this one renews.")
    termination_reason: TerminationReason | None
    terminated_at: datetime | None
    version: int
    created_at: datetime


class ContactCreate(RequestModel):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; a repeat with the same body is safe.")
    channel: ContactChannel
    outcome: ContactOutcome
    contacted_at: Instant = Field(description="When; not in the future, within a signing of the resident.")
    notes: str | None = Field(
        default=None, max_length=2000, description="Confidential: stored encrypted, never shown to sentinels."
    )


class ContactRead(BaseModel):
    id: uuid.UUID
    resident_id: uuid.UUID
    signing_id: uuid.UUID
    team_id: uuid.UUID
    channel: ContactChannel
    outcome: ContactOutcome
    contacted_at: datetime
    notes: str | None = Field(description="Absent for sentinels.")
    recorded_by: uuid.UUID
    version: int
    created_at: datetime


class PopulationCoverage(BaseModel):
    population: KeyPopulation
    residents: int
    signed: int
    rate: float | None = Field(description="signed / residents; null when there are no residents.")


class TeamCoverage(BaseModel):
    """Residents living in the team's area today, and how many of them are signed with the team."""

    team_id: uuid.UUID
    on: date
    residents: int = Field(description="Residents living in grids the team is responsible for.")
    signed: int = Field(description="Of those, residents with an active signing with this team.")
    rate: float | None
    signed_total: int = Field(description="All residents with an active signing with this team, wherever they live.")
    by_population: list[PopulationCoverage]


class VillageCoverage(BaseModel):
    village: UnitBrief
    residents: int
    signed: int = Field(description="Residents with an active signing with any team.")
    rate: float | None
    by_population: list[PopulationCoverage]


class VillageCoverageList(BaseModel):
    org_unit_id: uuid.UUID
    on: date
    items: list[VillageCoverage]


class TeamResidentRelation(StrEnum):
    SIGNED = "signed"
    AREA = "area"


class DueContact(BaseModel):
    """A signed resident not contacted (reached or refused) this quarter."""

    resident_id: uuid.UUID
    name: str
    grid_id: uuid.UUID
    signing_id: uuid.UUID
    last_contacted_at: datetime | None = Field(description="The last contact that reached the resident, if any.")


class DueContactPage(BaseModel):
    team_id: uuid.UUID
    quarter_starts_at: datetime
    quarter_ends_at: datetime
    items: list[DueContact]
    next_cursor: str | None
