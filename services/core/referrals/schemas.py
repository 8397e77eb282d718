"""Referral requests, views and the webhook/feed event payload (``ReferralEvent``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.core.referrals.models import (
    ConsentBy,
    ConsentMethod,
    DeclineReason,
    DepartmentKind,
    Direction,
    FollowUpChannel,
    FollowUpOutcome,
    ReferralStatus,
    Urgency,
)
from services.core.text import Instant, RequestModel

Name = Annotated[str, Field(min_length=1, max_length=100)]
Text500 = Annotated[str, Field(min_length=1, max_length=500)]
ClinicalText = Annotated[str, Field(min_length=1, max_length=4000)]
EVENT_TYPES = (
    "referral.requested",
    "referral.received",
    "referral.accepted",
    "referral.declined",
    "referral.arrived",
    "referral.completed",
    "referral.no_show",
    "referral.cancelled",
    "referral.taken_over",
    "referral.followed_up",
)
EventType = Literal[
    "referral.requested",
    "referral.received",
    "referral.accepted",
    "referral.declined",
    "referral.arrived",
    "referral.completed",
    "referral.no_show",
    "referral.cancelled",
    "referral.taken_over",
    "referral.followed_up",
]


class Identifier(RequestModel):
    """An identifier a hospital system gives the referral: unique per system, for ever."""

    system: str = Field(
        min_length=1, max_length=200, pattern=r"^[!-~]+$", description="A URI naming the issuing system."
    )
    value: str = Field(min_length=1, max_length=200, pattern=r"^[!-~]+$")


class IdentifierRead(BaseModel):
    system: str
    value: str


class Consent(RequestModel):
    """The patient's informed consent (知情同意), required before a referral is requested."""

    given_by: ConsentBy
    method: ConsentMethod
    given_at: Instant = Field(description="When it was given; not in the future.")


class Patient(RequestModel):
    """The patient by resident ID number, for a hospital that does not know our resident id."""

    id_number: str = Field(min_length=15, max_length=18, description="The 18-digit resident ID (居民身份证号).")


class DownwardCare(RequestModel):
    """Continued care below (下转): what the responsible team takes over."""

    reason: ClinicalText = Field(description="Why care continues below (sealed).")
    clinical_summary: ClinicalText | None = Field(default=None, description="Discharge instructions (sealed).")
    discharged_at: Instant | None = Field(default=None, description="Defaults to now.")
    to_team_id: uuid.UUID | None = Field(
        default=None, description="Default: the team responsible for the resident now."
    )
    urgency: Urgency = Urgency.ROUTINE
    consent: Consent
    identifiers: list[Identifier] = Field(default_factory=list, max_length=5)


class ReferralCreate(RequestModel):
    """A referral request. Upward: a team (or its institution's HIS) refers a resident to a district
    institution. Downward: an institution's desk or HIS refers a patient to the responsible team."""

    id: uuid.UUID | None = Field(default=None, description="A client-chosen id: a replay answers the stored referral.")
    identifiers: list[Identifier] = Field(
        default_factory=list, max_length=5, description="The sending system's own ids; a replay by one answers 200."
    )
    direction: Direction
    resident_id: uuid.UUID | None = Field(default=None, description="Our resident id; or `patient`.")
    patient: Patient | None = None
    from_team_id: uuid.UUID | None = Field(
        default=None, description="Upward: the referring team (default: the caller's only team)."
    )
    from_doctor: Name | None = None
    to_institution_id: uuid.UUID | None = Field(default=None, description="Upward: the district institution.")
    to_team_id: uuid.UUID | None = Field(
        default=None, description="Downward: default the team responsible for the resident's grid now."
    )
    to_department: Name | None = None
    department_kind: DepartmentKind | None = Field(default=None, description="One of the district's four departments.")
    urgency: Urgency = Urgency.ROUTINE
    reason: ClinicalText = Field(description="Why (sealed: read by the two sides only).")
    clinical_summary: ClinicalText | None = Field(default=None, description="Sealed like the reason.")
    discharged_at: Instant | None = Field(default=None, description="Downward: when the patient left hospital.")
    parent_id: uuid.UUID | None = Field(default=None, description="The referral this one continues or reopens.")
    consent: Consent


class Appointment(RequestModel):
    at: Instant
    department: Name
    doctor: Name | None = None
    bed: Annotated[str, Field(min_length=1, max_length=50)] | None = None


class ReferralReceive(RequestModel):
    note: Text500 | None = None


class ReferralAccept(RequestModel):
    appointment: Appointment


class ReferralDecline(RequestModel):
    reason: DeclineReason
    note: Text500 | None = Field(default=None, description="Required with reason `other`.")


class ReferralHold(RequestModel):
    reason: Text500 = Field(description="e.g. waiting for a bed")


class ReferralNote(RequestModel):
    note: Text500 | None = None


class ReferralComplete(RequestModel):
    discharge_summary: ClinicalText | None = Field(default=None, description="Upward: outcome and discharge summary.")
    continued_care: DownwardCare | None = Field(
        default=None, description="Upward: care continues below: creates the downward referral linked to this one."
    )


class ReferralCancel(RequestModel):
    reason: Text500


class ReferralFollowUp(RequestModel):
    channel: FollowUpChannel
    outcome: FollowUpOutcome
    notes: ClinicalText | None = None
    contacted_at: Instant | None = Field(default=None, description="Defaults to now.")


class Ref(BaseModel):
    id: uuid.UUID
    name: str


class DeadlineRead(BaseModel):
    kind: str
    due_at: datetime
    state: str
    paused: bool
    met_at: datetime | None


class ReferralTransitionRead(BaseModel):
    action: str
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    actor_id: uuid.UUID
    at: datetime
    reason: str | None


class ConsentRead(BaseModel):
    given_by: ConsentBy
    method: ConsentMethod
    given_at: datetime
    recorded_by: uuid.UUID


class AppointmentRead(BaseModel):
    at: datetime
    department: str | None
    doctor: str | None
    bed: str | None


class ReferralRead(BaseModel):
    """A referral. ``clinical`` tells whether the sealed text is shown (the two sides) or withheld (supervisors)."""

    id: uuid.UUID
    direction: Direction
    status: ReferralStatus
    identifiers: list[IdentifierRead]
    parent_id: uuid.UUID | None
    children: list[uuid.UUID]
    resident_id: uuid.UUID
    grid_id: uuid.UUID
    town_id: uuid.UUID
    signed: bool
    priority: bool
    from_institution: Ref
    from_team: Ref | None
    from_doctor: str | None
    to_institution: Ref
    to_team: Ref | None
    to_department: str | None
    department_kind: DepartmentKind | None
    urgency: Urgency
    clinical: bool
    reason: str | None
    clinical_summary: str | None
    discharge_summary: str | None
    consent: ConsentRead
    requested_by: uuid.UUID
    requested_at: datetime
    received_at: datetime | None
    decided_at: datetime | None
    appointment: AppointmentRead | None
    decline_reason: DeclineReason | None
    decline_note: str | None
    hold_reason: str | None
    arrived_at: datetime | None
    discharged_at: datetime | None
    completed_at: datetime | None
    taken_over_at: datetime | None
    first_follow_up_at: datetime | None
    follow_up_channel: FollowUpChannel | None
    follow_up_outcome: FollowUpOutcome | None
    follow_up_notes: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    deadlines: list[DeadlineRead]
    history: list[ReferralTransitionRead]
    version: int


class ReferralBrief(BaseModel):
    """A referral in a list: where it stands, no clinical text."""

    id: uuid.UUID
    direction: Direction
    status: ReferralStatus
    identifiers: list[IdentifierRead]
    resident_id: uuid.UUID
    from_institution_id: uuid.UUID
    from_team_id: uuid.UUID | None
    to_institution_id: uuid.UUID
    to_team_id: uuid.UUID | None
    urgency: Urgency
    priority: bool
    requested_at: datetime
    version: int


class ReferralEventData(BaseModel):
    """The thin payload: enough to fetch the referral and to drop a stale event (compare ``version``)."""

    id: uuid.UUID
    identifiers: list[IdentifierRead]
    version: int
    status: ReferralStatus


class ReferralEvent(BaseModel):
    """A referral event as webhooks deliver it (``{type, timestamp, data}``, Standard Webhooks)."""

    type: EventType
    timestamp: datetime
    data: ReferralEventData


class ReferralChangeRead(BaseModel):
    """One change in an institution's feed: the event type and the thin payload."""

    seq: int
    type: str = Field(
        description="An event type (`referral.accepted`, ...) or `referral.on_hold`/`.resumed`/`.rerouted`."
    )
    occurred_at: datetime
    data: ReferralEventData


class ReferralChanges(BaseModel):
    """A page of changes, oldest first; pass ``cursor`` back for the next (each change is delivered once)."""

    items: list[ReferralChangeRead]
    cursor: str
    has_more: bool


class RateRow(BaseModel):
    key: uuid.UUID | None
    name: str | None
    upward: int
    downward: int
    decided: int
    accepted: int
    acceptance_rate: float | None
    median_hours_to_decision: float | None
    no_shows: int
    downward_taken_over_within_24h: int
    downward_followed_up_within_48h: int


class ReferralMetrics(BaseModel):
    """Referral metrics for referrals requested in ``[from, to)``, grouped."""

    group_by: Literal["institution", "team", "town"]
    starts_at: datetime
    ends_at: datetime
    rows: list[RateRow]
