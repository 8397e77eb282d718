"""Report request and response models.

Two response models on purpose: ``ReportRead`` (the care view: details, follow-ups with
their notes, the outcome) for the responsible team and supervisors; ``ReportStatusRead``
(the status view: reported in? when? by which team?) for the sentinel who reported it and
the village's community side. The status view has no field that could carry clinical text.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.core.reports.models import (
    CloseOutcome,
    FollowUpChannel,
    FollowUpOutcome,
    ReportCategory,
    ReportStatus,
)
from services.core.residents.identity import (
    ID_NUMBER_DESCRIPTION,
    ID_NUMBER_PATTERN,
    PHONE_DESCRIPTION,
    PHONE_PATTERN,
    IdType,
    Sex,
)
from services.core.residents.models import KeyPopulation
from services.core.text import Date, Instant, RequestModel

MAX_BATCH = 100

Text500 = Annotated[str, Field(min_length=1, max_length=500)]


# ---------------------------------------------------------------- per-category details


class NewKeyPopulationDetails(RequestModel):
    """A resident newly in a key population, or a change of a known one's basic information."""

    category: Literal["new_key_population"]
    change: Literal["new_resident", "new_population", "changed_info"] = Field(
        description="`new_resident`: not registered yet (send `new_resident`); `new_population`: a registered "
        "resident newly in a key population; `changed_info`: address, phone or household changed."
    )
    populations: list[KeyPopulation] = Field(default_factory=list, max_length=9)
    changed_fields: list[Literal["address", "phone", "household", "name", "other"]] = Field(
        default_factory=list, max_length=5
    )
    description: str | None = Field(default=None, max_length=500)


class HealthNeedKind(StrEnum):
    HOME_VISIT = "home_visit"
    CHRONIC_DISEASE = "chronic_disease"
    HEALTH_CHECK = "health_check"
    REHABILITATION = "rehabilitation"
    MATERNAL_CHILD = "maternal_child"
    PSYCHOLOGICAL = "psychological"
    VACCINATION = "vaccination"
    SIGNING = "signing"
    OTHER = "other"


class HealthNeedDetails(RequestModel):
    """A health need collected on a home visit or from a resident."""

    category: Literal["health_need"]
    needs: list[HealthNeedKind] = Field(min_length=1, max_length=9)
    description: Text500


class RiskSign(StrEnum):
    STOPPED_MEDICATION = "stopped_medication"
    RELAPSE_SIGNS = "relapse_signs"
    THREATENS_OTHERS = "threatens_others"
    VIOLENCE = "violence"
    SELF_HARM = "self_harm"
    WANDERING = "wandering"
    OTHER = "other"


class UrgentRiskDetails(RequestModel):
    """A severe-mental-disorder patient who is unstable or tends to cause harm: told to the
    village committee and the whole team at once."""

    category: Literal["urgent_risk"]
    signs: list[RiskSign] = Field(min_length=1, max_length=7)
    happening_now: bool = Field(description="The danger is present right now.")
    police_called: bool = False
    description: Text500


class DeliveryService(StrEnum):
    FETCH = "fetch"
    DELIVER = "deliver"
    GUIDANCE = "guidance"


class DeliveryReason(StrEnum):
    HOUSEBOUND = "housebound"
    DISABLED = "disabled"
    DEMENTIA = "dementia"


class MedicineDeliveryDetails(RequestModel):
    """Medicine fetching/delivery and medication guidance for a resident who cannot come."""

    category: Literal["medicine_delivery"]
    services: list[DeliveryService] = Field(min_length=1, max_length=3)
    reason: DeliveryReason
    medicines: str | None = Field(default=None, max_length=500, description="What the resident takes, as told.")
    team_has_seen: bool = Field(
        description="The team has seen the resident before (the plan offers delivery only then); must be true."
    )
    description: str | None = Field(default=None, max_length=500)


class OtherDetails(RequestModel):
    category: Literal["other"]
    description: Text500


ReportDetails = Annotated[
    NewKeyPopulationDetails | HealthNeedDetails | UrgentRiskDetails | MedicineDeliveryDetails | OtherDetails,
    Field(discriminator="category"),
]


class NewResidentDraft(RequestModel):
    """A resident not registered yet. The identity number and phone are checked like a resident's
    and stored encrypted; responses show them masked only."""

    name: str = Field(min_length=1, max_length=50)
    sex: Sex | None = None
    birth_on: Date | None = None
    id_type: IdType | None = None
    id_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
        description=ID_NUMBER_DESCRIPTION,
    )
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=30,
        json_schema_extra={"pattern": PHONE_PATTERN},
        description=PHONE_DESCRIPTION,
    )
    address: str | None = Field(default=None, max_length=200)
    household_code: str | None = Field(default=None, max_length=64)


class ReportCreate(RequestModel):
    id: uuid.UUID = Field(
        description="Chosen by the phone. The same id with the same body answers 200 with the stored report; "
        "with a different body 409 `conflict` (`existing_id` names it)."
    )
    grid_id: uuid.UUID = Field(description="A grid the sentinel serves.")
    resident_id: uuid.UUID | None = Field(default=None, description="A registered resident of the grid.")
    new_resident: NewResidentDraft | None = Field(default=None, description="Instead of `resident_id`.")
    observed_at: Instant | None = Field(
        default=None, description="When the sentinel saw it (the phone's clock, with its offset)."
    )
    details: ReportDetails


class ReportBatch(RequestModel):
    reports: list[ReportCreate] = Field(min_length=1, max_length=MAX_BATCH)


class ReportIn(RequestModel):
    team_id: uuid.UUID | None = Field(
        default=None,
        description="Only for an unrouted report taken by a member of several teams: the team taking it.",
    )


class FollowUpCreate(RequestModel):
    channel: FollowUpChannel
    outcome: FollowUpOutcome
    notes: str | None = Field(default=None, max_length=2000)
    contacted_at: Instant | None = Field(default=None, description="Defaults to now; never in the future.")


class InterventionStart(RequestModel):
    plan: str | None = Field(default=None, max_length=2000)


class ReportClose(RequestModel):
    outcome: CloseOutcome
    notes: str | None = Field(default=None, max_length=2000)


class ReportCancel(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


# ---------------------------------------------------------------- responses


class TeamRef(BaseModel):
    id: uuid.UUID
    name: str


class ReportStatusRead(BaseModel):
    """What a sentinel sees of a report: where it stands, never what the doctors wrote."""

    view: Literal["status"] = "status"
    id: uuid.UUID
    category: ReportCategory
    grid_id: uuid.UUID
    resident_id: uuid.UUID | None
    status: ReportStatus
    unrouted: bool
    team: TeamRef | None
    submitted_at: datetime
    reported_in: bool
    reported_in_at: datetime | None
    followed_up: bool
    first_follow_up_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    version: int


class FollowUpRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: FollowUpChannel
    outcome: FollowUpOutcome
    notes: str | None
    contacted_at: datetime
    recorded_by: uuid.UUID
    recorded_at: datetime


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: ReportStatus | None
    to_status: ReportStatus
    actor_id: uuid.UUID
    at: datetime
    team_id: uuid.UUID | None


class DraftRead(BaseModel):
    name: str
    sex: Sex | None
    birth_on: date | None
    id_type: IdType | None
    id_number_masked: str | None
    phone_masked: str | None
    address: str | None
    household_code: str | None


class DeadlineBrief(BaseModel):
    due_at: datetime
    state: str
    met_at: datetime | None


class ReportRead(BaseModel):
    """The care view: the whole report with its follow-ups and history."""

    view: Literal["care"] = "care"
    id: uuid.UUID
    district_id: uuid.UUID
    category: ReportCategory
    grid_id: uuid.UUID
    village_id: uuid.UUID
    town_id: uuid.UUID
    resident_id: uuid.UUID | None
    new_resident: DraftRead | None
    details: ReportDetails
    status: ReportStatus
    unrouted: bool
    team: TeamRef | None
    reporter_id: uuid.UUID
    observed_at: datetime | None
    submitted_at: datetime
    reported_in_at: datetime | None
    reported_in_by: uuid.UUID | None
    first_follow_up_at: datetime | None
    intervention_started_at: datetime | None
    intervention_plan: str | None
    closed_at: datetime | None
    outcome: CloseOutcome | None
    outcome_notes: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    follow_up_deadline: DeadlineBrief | None
    follow_ups: list[FollowUpRead]
    history: list[TransitionRead]
    version: int


ReportView = Annotated[ReportRead | ReportStatusRead, Field(discriminator="view")]


class BatchItemResult(BaseModel):
    id: uuid.UUID | None = Field(description="The item's id (absent when the item had none).")
    index: int
    status: int = Field(description="201 stored, 200 already stored (a replay), else the refusal's status.")
    problem: dict[str, object] | None = Field(
        default=None, description="The refusal as problem+json members (`code`, `detail`, `errors`)."
    )


class BatchResult(BaseModel):
    stored: int
    replayed: int
    refused: int
    items: list[BatchItemResult]


class MetricsGroup(BaseModel):
    key: uuid.UUID | None = Field(description="The grid, team or town id; null groups unrouted reports by team.")
    name: str | None
    reports: int
    by_category: dict[ReportCategory, int]
    median_hours_to_report_in: float | None
    median_hours_to_first_follow_up: float | None
    due: int = Field(description="Reports whose follow-up is due by now or was done (cancelled ones excluded).")
    followed_up_within_sla: int
    share_followed_up_within_sla: float | None
    open: int
    overdue: int


class ReportMetrics(BaseModel):
    org_unit_id: uuid.UUID
    from_: datetime = Field(alias="from")
    to: datetime
    group_by: Literal["grid", "team", "town"]
    groups: list[MetricsGroup]

    model_config = ConfigDict(populate_by_name=True)
