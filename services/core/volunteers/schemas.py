"""Request and response models for volunteers, their shifts and hours, and group and community work."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.core.text import Date, Instant, RequestModel
from services.core.volunteers.models import HoursStatus, PromotionTopic, SessionKind, ShiftStatus, Skill, Slot

_CLIENT_ID = Field(default=None, description="Client-chosen id; repeating a create with the same id and body is safe.")
_NAME = Field(min_length=1, max_length=100)


class Certificate(RequestModel):
    """A certificate a volunteer holds (first aid, a counselling licence...), with its expiry when it has one."""

    name: str = Field(min_length=1, max_length=100)
    number: str | None = Field(default=None, max_length=50)
    expires_on: Date | None = Field(default=None, description="Absent: does not expire.")


class CertificateRead(BaseModel):
    name: str
    number: str | None = None
    expires_on: date | None = None
    expired: bool = Field(description="Past its expiry date on China's calendar.")


class VolunteerCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    department_id: uuid.UUID = Field(description="The social-work department the volunteer registers with.")
    name: str = _NAME
    skills: list[Skill] = Field(default_factory=list, max_length=len(Skill))
    certificates: list[Certificate] = Field(default_factory=list, max_length=20)
    availability: list[Slot] = Field(default_factory=list, max_length=len(Slot), description="Usual free half days.")
    paired_user_id: uuid.UUID | None = Field(
        default=None, description="The department's social worker the volunteer works beside (双工联动)."
    )
    user_id: uuid.UUID | None = Field(
        default=None, description="The volunteer's own login: an account with a volunteer grant naming the institution."
    )
    registered_on: Date | None = Field(default=None, description="Defaults to today (China time).")


class VolunteerUpdate(RequestModel):
    """Change what is sent; send If-Match with the version you read."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    skills: list[Skill] | None = Field(default=None, max_length=len(Skill))
    certificates: list[Certificate] | None = Field(default=None, max_length=20)
    availability: list[Slot] | None = Field(default=None, max_length=len(Slot))
    paired_user_id: uuid.UUID | None = Field(default=None, description="null unpairs (send it explicitly).")


class VolunteerRead(BaseModel):
    id: uuid.UUID
    department_id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    skills: list[Skill]
    certificates: list[CertificateRead]
    availability: list[Slot]
    paired_user_id: uuid.UUID | None
    user_id: uuid.UUID | None
    registered_on: date
    version: int


class ShiftCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    department_id: uuid.UUID
    title: str = Field(min_length=1, max_length=100, description="e.g. 门诊导诊, 病房陪伴")
    place: str | None = Field(default=None, max_length=100)
    starts_at: Instant
    ends_at: Instant = Field(description="After starts_at, within 24 hours of it.")


class ShiftSchedule(RequestModel):
    volunteer_id: uuid.UUID = Field(description="A volunteer of the shift's department.")


class ShiftReason(RequestModel):
    reason: str | None = Field(default=None, max_length=200)


class ShiftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    department_id: uuid.UUID
    institution_id: uuid.UUID
    title: str
    place: str | None
    starts_at: datetime
    ends_at: datetime
    status: ShiftStatus
    volunteer_id: uuid.UUID | None
    version: int


class HoursCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    volunteer_id: uuid.UUID | None = Field(
        default=None, description="Whose hours; a volunteer submitting their own may leave it out."
    )
    shift_id: uuid.UUID | None = Field(default=None, description="The attended shift the hours were served on.")
    served_on: Date = Field(description="Not after today (China time).")
    hours: float = Field(gt=0, le=24, multiple_of=0.25, description="In quarter hours.")
    activity: str = Field(min_length=1, max_length=200)


class HoursReject(RequestModel):
    reason: str = Field(min_length=1, max_length=200)


class HoursRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    volunteer_id: uuid.UUID
    department_id: uuid.UUID
    institution_id: uuid.UUID
    shift_id: uuid.UUID | None
    served_on: date
    hours: Decimal
    activity: str
    status: HoursStatus
    submitted_at: datetime
    submitted_by: uuid.UUID
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    rejection_reason: str | None
    version: int


class HoursTotal(BaseModel):
    """Verified hours of one volunteer, department, institution or district over a period."""

    id: uuid.UUID = Field(description="The volunteer's, department's, institution's or district's id.")
    name: str
    entries: int = Field(description="Entries of any status served in the period.")
    verified_hours: Decimal | None = Field(
        description="null: nothing logged in the period; 0: logged, none verified yet (or all rejected)."
    )
    pending_hours: Decimal = Field(description="Submitted, not yet decided.")


class HoursTotals(BaseModel):
    by: str
    starts_on: date
    ends_on: date
    items: list[HoursTotal]


class IdleVolunteer(BaseModel):
    id: uuid.UUID
    name: str
    department_id: uuid.UUID
    last_verified_on: date | None = Field(description="The last day with verified service; null: never.")


class StaleHours(BaseModel):
    id: uuid.UUID
    volunteer_id: uuid.UUID
    volunteer_name: str
    department_id: uuid.UUID
    served_on: date
    hours: Decimal
    submitted_at: datetime


class Attention(BaseModel):
    """What a supervisor should chase: volunteers without verified service for 30 days, hours left
    unverified for 14 days."""

    idle_days: int
    unverified_days: int
    idle_volunteers: list[IdleVolunteer]
    stale_hours: list[StaleHours]


class SessionCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    department_id: uuid.UUID
    kind: SessionKind
    topic: str = Field(min_length=1, max_length=200)
    promotion_topic: PromotionTopic | None = Field(
        default=None, description="Community health promotion: what it promoted; a community session needs one."
    )
    held_at: Instant = Field(description="Not in the future.")
    minutes: int = Field(gt=0, le=1440)
    facilitator_user_id: uuid.UUID | None = Field(default=None, description="Defaults to the caller.")
    participant_count: int = Field(ge=0, le=100000)
    named_participants: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=200,
        description="Only participants who consented to being named; never more than participant_count.",
    )
    participants_consented: bool = Field(
        default=False, description="Must be true when naming participants: their consent was recorded."
    )
    village_id: uuid.UUID | None = Field(
        default=None, description="The village or community; a community session needs one."
    )
    notes: str | None = Field(default=None, max_length=2000)


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    department_id: uuid.UUID
    institution_id: uuid.UUID
    kind: SessionKind
    topic: str
    promotion_topic: PromotionTopic | None
    held_at: datetime
    minutes: int
    facilitator_user_id: uuid.UUID
    participant_count: int
    named_participants: list[str]
    village_id: uuid.UUID | None
    notes: str | None
    version: int
