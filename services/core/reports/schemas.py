"""Report request and response models.

Three response models on purpose, told apart by ``view``: ``ReportRead`` (the care view:
details, follow-ups with their notes, the outcome) for the responsible team and supervisors;
``ReportStatusRead`` (the status view: reported in? when? by whom, which team?) for the sentinel
who reported it and the village's community side; ``ReportUrgentRead`` (the urgent view: every
status-view field plus what the village committee needs to act on an urgent risk) for the
community steward of the report's village. Neither of the last two has a field that could carry
the team's clinical text; a client that does not know ``urgent`` may read it as a status view.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

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


# An item of a phone's queue: judged on its own (``service.create_batch``), so one bad item never
# blocks the others. The schema says both truths: an item should be a ``ReportCreate``, and any
# object is accepted into the batch (a bad one is answered as refused, with its problem and index).
BatchEntry = Annotated[
    ReportCreate | dict[str, Any],
    Field(
        union_mode="left_to_right",
        description="A `ReportCreate`. An object that is not a valid one is refused on its own "
        "(its item answers 422 with `errors` naming `body.reports.<index>.<field>`); the others are stored.",
    ),
]


class ReportBatch(RequestModel):
    reports: list[BatchEntry] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Up to 100 reports, in the order the phone queued them; each is stored or refused on its own.",
    )


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


class ResponderRef(BaseModel):
    """Who reported in: the team member's name and the team's service phone (never their own mobile)."""

    name: str
    team_service_phone: str | None = Field(description="The team's public service phone; null when it has none.")


class DraftRead(BaseModel):
    name: str
    sex: Sex | None
    birth_on: date | None
    id_type: IdType | None
    id_number_masked: str | None
    phone_masked: str | None
    address: str | None
    household_code: str | None


class ReportStatusFields(BaseModel):
    """What a sentinel sees of a report: where it stands, never what the doctors wrote."""

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
    reported_in_by: ResponderRef | None = Field(
        description="The team member who reported in, with the team's service phone; null until someone has."
    )
    followed_up: bool
    first_follow_up_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    new_resident: DraftRead | None = Field(
        description="The new resident as the caller typed it (identity and phone masked): only in the "
        "entry of the sentinel who submitted the report; null for everyone else."
    )
    version: int


class ReportStatusRead(ReportStatusFields):
    """What a sentinel sees of a report: where it stands, never what the doctors wrote."""

    view: Literal["status"] = "status"


class PlaceRef(BaseModel):
    id: uuid.UUID
    name: str


class UrgentResident(BaseModel):
    """Whom to look for: the resident's name and address (a registered resident's, or the draft's)."""

    id: uuid.UUID | None = Field(description="The registered resident; null for a new-resident draft.")
    name: str
    address: str | None


class UrgentRiskBrief(BaseModel):
    """What the village committee needs to act on an urgent risk, as the sentinel reported it."""

    signs: list[RiskSign]
    happening_now: bool
    police_called: bool
    description: str = Field(description="What the sentinel saw, in their words.")
    observed_at: datetime | None
    village: PlaceRef
    grid: PlaceRef
    resident: UrgentResident | None


class ReportUrgentRead(ReportStatusFields):
    """The urgent view: the status view plus ``urgent``, for the community steward of the report's
    village (``reports:read_urgent``); each read is audited. No follow-up notes, plan or outcome."""

    view: Literal["urgent"] = "urgent"
    urgent: UrgentRiskBrief


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
    report_in_deadline: DeadlineBrief | None = Field(
        description="The 2-hour report-in clock of an urgent risk happening now; null for other reports."
    )
    follow_ups: list[FollowUpRead]
    history: list[TransitionRead]
    version: int


ReportView = Annotated[ReportRead | ReportStatusRead | ReportUrgentRead, Field(discriminator="view")]


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
