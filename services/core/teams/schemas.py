"""Request and response models for institutions, people, teams, members and backing."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.teams.models import (
    Discipline,
    InstitutionKind,
    InstitutionLevel,
    MemberRole,
    PersonKind,
    PostingKind,
    TeamKind,
    TeamLevel,
    TeamStatus,
)
from services.core.teams.validation import CREDIT_CODE_PATTERN, MOBILE_PATTERN
from services.core.text import Instant, RequestModel

CREDIT_CODE_DESCRIPTION = "Unified social credit code (GB 32100): 18 characters, the last a check character."

_CLIENT_ID = Field(default=None, description="Client-chosen id; repeating a create with the same id and body is safe.")


class PeriodCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    starts_at: Instant | None = Field(default=None, description="Defaults to now.")
    ends_at: Instant | None = Field(default=None, description="Exclusive; absent means open-ended.")


class PeriodUpdate(RequestModel):
    """End a period (or move its end); send If-Match with the version you read."""

    ends_at: Instant | None = Field(description="Exclusive end; null reopens the period.")


class PeriodRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None
    version: int


class InstitutionCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    name: str = Field(min_length=1, max_length=100)
    kind: InstitutionKind = Field(description="The level (district, primary, social) follows from the kind.")
    credit_code: str = Field(
        min_length=1,
        max_length=40,
        description="Unified social credit code (GB 32100).",
        json_schema_extra={"pattern": CREDIT_CODE_PATTERN},
    )
    org_unit_id: uuid.UUID = Field(description="The district or town the institution sits in.")


class InstitutionUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    credit_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        json_schema_extra={"pattern": CREDIT_CODE_PATTERN},
        description=CREDIT_CODE_DESCRIPTION,
    )


class InstitutionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: InstitutionKind
    level: InstitutionLevel
    credit_code: str
    org_unit_id: uuid.UUID
    district_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class StewardCreate(PeriodCreate):
    person_id: uuid.UUID = Field(description="A staff member; one steward per institution at a time.")


class StewardRead(PeriodRead):
    institution_id: uuid.UUID
    person_id: uuid.UUID


class PersonCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    name: str = Field(min_length=1, max_length=100)
    kind: PersonKind
    discipline: Discipline | None = Field(default=None, description="Required for staff, absent otherwise.")
    mobile: str = Field(
        min_length=1,
        max_length=30,
        description="Mainland mobile; +86, spaces and dashes allowed.",
        json_schema_extra={"pattern": MOBILE_PATTERN},
    )
    institution_id: uuid.UUID | None = Field(default=None, description="Staff: the employing institution.")
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="Home unit; defaults to the institution's for staff, required for community workers."
    )
    user_id: uuid.UUID | None = Field(default=None, description="The person's login account, if any.")


class PersonUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    mobile: str | None = Field(
        default=None,
        min_length=1,
        max_length=30,
        json_schema_extra={"pattern": MOBILE_PATTERN},
        description="Mainland mobile; +86, spaces and dashes allowed.",
    )
    discipline: Discipline | None = None
    user_id: uuid.UUID | None = None


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: PersonKind
    discipline: Discipline | None
    mobile_masked: str = Field(description="138****5678; the full number is GET /people/{id}/mobile (audited).")
    institution_id: uuid.UUID | None
    org_unit_id: uuid.UUID
    user_id: uuid.UUID | None
    district_id: uuid.UUID
    version: int


class PersonMobileRead(BaseModel):
    """A person's full mobile number, for the roles allowed to call them."""

    person_id: uuid.UUID
    mobile: str


class TeamCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    institution_id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    kind: TeamKind = TeamKind.PRIMARY
    level: TeamLevel | None = Field(
        default=None, description="district for the four departments; defaults to village for primary teams."
    )
    service_phone: str | None = Field(default=None, min_length=3, max_length=20, pattern=r"^[0-9+\- ]+$")
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="Where the team is based; within the institution's unit, defaults to it."
    )


class TeamUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    status: TeamStatus | None = None
    service_phone: str | None = Field(default=None, min_length=3, max_length=20, pattern=r"^[0-9+\- ]+$")


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    kind: TeamKind
    level: TeamLevel
    status: TeamStatus
    service_phone: str | None
    org_unit_id: uuid.UUID
    district_id: uuid.UUID
    leader_person_id: uuid.UUID | None = Field(default=None, description="The team leader now, if there is one.")
    version: int
    created_at: datetime
    updated_at: datetime


class MemberCreate(PeriodCreate):
    person_id: uuid.UUID = Field(description="A staff member.")
    role: MemberRole = Field(default=MemberRole.MEMBER, description="One leader per team at a time.")
    discipline: Discipline | None = Field(default=None, description="Defaults to the person's discipline.")


class MemberRead(PeriodRead):
    team_id: uuid.UUID
    person_id: uuid.UUID
    role: MemberRole
    discipline: Discipline
    posting_id: uuid.UUID | None = Field(
        default=None, description="The posting from another institution this membership rests on, if any."
    )


class BackingCreate(PeriodCreate):
    backing_team_id: uuid.UUID = Field(description="A district or town team, one level above the backed team.")
    backed_team_id: uuid.UUID


class BackingRead(PeriodRead):
    backing_team_id: uuid.UUID
    backed_team_id: uuid.UUID


class PostingCreate(PeriodCreate):
    """Lend a staff member to a primary institution; their own institution is the home side."""

    person_id: uuid.UUID = Field(description="A staff member of a district-level (county_hired) or social institution.")
    host_institution_id: uuid.UUID = Field(description="The primary institution they work for meanwhile.")
    kind: PostingKind = Field(
        description="county_hired: posted down by a district hospital (县聘乡用), a term is required; "
        "social_partner: staff of a social-run nursing station or clinic."
    )
    full_time: bool = Field(default=True, description="Seed 000's postings are full time.")


class PostingRead(PeriodRead):
    person_id: uuid.UUID
    home_institution_id: uuid.UUID
    host_institution_id: uuid.UUID
    kind: PostingKind
    full_time: bool


class PostingMemberCreate(RequestModel):
    """Put the posted person on a team of the host institution, inside the posting's period."""

    id: uuid.UUID | None = _CLIENT_ID
    team_id: uuid.UUID = Field(description="A team of the posting's host institution.")
    role: MemberRole = Field(default=MemberRole.MEMBER, description="One leader per team at a time.")
    discipline: Discipline | None = Field(default=None, description="Defaults to the person's discipline.")
    starts_at: Instant | None = Field(default=None, description="Defaults to the posting's start.")
    ends_at: Instant | None = Field(default=None, description="Exclusive; defaults to the posting's end.")
