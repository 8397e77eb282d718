"""Request and response models for medical social work."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.core.referrals.models import FollowUpChannel, FollowUpOutcome
from services.core.referrals.schemas import Consent
from services.core.residents.identity import ID_NUMBER_DESCRIPTION, ID_NUMBER_PATTERN, IdType, Sex
from services.core.socialwork.models import (
    AidKind,
    CaseSource,
    RiskLevel,
    ServiceArea,
    TransferScope,
    WorkMode,
)
from services.core.text import Date, Instant, RequestModel

_CLIENT_ID = Field(default=None, description="Client-chosen id; repeating a create with the same id and body is safe.")


class PsychosocialDomain(StrEnum):
    """What a psycho-social assessment looks at."""

    EMOTIONAL = "emotional"  # 情绪与心理
    ADHERENCE = "adherence"  # 治疗依从
    FAMILY = "family"  # 家庭关系与照护
    ECONOMIC = "economic"  # 经济状况
    SOCIAL_SUPPORT = "social_support"  # 社会支持
    DOCTOR_PATIENT = "doctor_patient"  # 医患沟通
    DAILY_LIVING = "daily_living"  # 生活自理
    OTHER = "other"


class GoalsMet(StrEnum):
    ALL = "all"
    PARTLY = "partly"
    NONE = "none"


class AidDocumentKind(StrEnum):
    IDENTITY = "identity"  # 身份证明
    INCOME = "income"  # 收入/低保/特困证明
    MEDICAL = "medical"  # 诊断证明、费用清单
    APPLICATION = "application"  # 申请书
    OTHER = "other"


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


# --- cases ------------------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Comment = Annotated[str, Field(min_length=1, max_length=1000)]


class CasePatient(RequestModel):
    """A patient who is not (yet) a resident of the district: a hospital patient from elsewhere. The name
    and the ID number are sealed like residents' identity; an ID number held by a resident of the district
    links the case to that resident instead."""

    name: str = Field(min_length=1, max_length=50)
    id_type: IdType | None = Field(
        default=None, description="CV02.01.101; a resident ID (`01`) when a number is given."
    )
    id_number: str | None = Field(
        default=None, max_length=40, description=ID_NUMBER_DESCRIPTION, json_schema_extra={"pattern": ID_NUMBER_PATTERN}
    )
    sex: Sex | None = None
    birth_on: Date | None = None


class CaseCreate(RequestModel):
    """Intake (接案): who, from where, which service areas, how risky, and who works the case."""

    id: uuid.UUID | None = _CLIENT_ID
    department_id: uuid.UUID | None = Field(
        default=None, description="Default: the department of the caller's (only) social-work grant."
    )
    source: CaseSource
    source_report_id: uuid.UUID | None = Field(default=None, description="With source `sentinel_report`.")
    source_referral_id: uuid.UUID | None = Field(default=None, description="With source `referral`.")
    referred_by: Name | None = Field(default=None, description="The ward and doctor (required for `ward_referral`).")
    resident_id: uuid.UUID | None = Field(default=None, description="The resident; or `patient`.")
    patient: CasePatient | None = None
    ward: Name | None = Field(default=None, description="Ward and bed (病区/床号).")
    service_areas: list[ServiceArea] = Field(min_length=1, max_length=6)
    risk_level: RiskLevel = RiskLevel.LOW
    worker_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=5,
        description="The case's social workers (the first leads); default: the caller.",
    )


class WorkerRead(BaseModel):
    user_id: uuid.UUID
    name: str
    lead: bool
    assigned_at: datetime


class AssessmentCreate(RequestModel):
    domains: list[PsychosocialDomain] = Field(min_length=1, max_length=10)
    instrument: Name | None = Field(default=None, description="e.g. PHQ-9, GAD-7, SSRS; with its score.")
    score: Decimal | None = Field(default=None, ge=0, le=10000, max_digits=7, decimal_places=2)
    risk_level: RiskLevel
    findings: Text | None = None
    assessed_at: Instant | None = Field(default=None, description="Defaults to now; not in the future.")


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    domains: list[str]
    instrument: str | None
    score: Decimal | None
    risk_level: str
    findings: str | None
    assessed_by: uuid.UUID
    assessed_at: datetime


class TaskCreate(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    owner_id: uuid.UUID | None = Field(
        default=None, description="One of the case's social workers; default: the caller."
    )
    due_at: Instant = Field(description="When it is due; the owner is reminded a day before.")


class PlanCreate(RequestModel):
    """The service plan (服务计划), submitted for the supervisor's approval; a revision replaces the open tasks."""

    goals: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(min_length=1, max_length=10)
    tasks: list[TaskCreate] = Field(default_factory=list, max_length=30)


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    title: str
    owner_id: uuid.UUID
    due_at: datetime
    status: str
    done_at: datetime | None
    version: int


class Review(RequestModel):
    """The supervisor's decision: comments are required when sending back."""

    comments: Comment | None = None


class SendBack(RequestModel):
    comments: Comment


class ClosureRequest(RequestModel):
    """The closing evaluation (结案评估)."""

    goals_met: GoalsMet
    client_satisfaction: int | None = Field(default=None, ge=1, le=5, description="1 (very dissatisfied) to 5.")
    summary: Text


class Reopen(RequestModel):
    reason: Comment


class WorkerAssign(RequestModel):
    user_id: uuid.UUID = Field(description="A social worker of the case's department.")


class ActivityCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    mode: WorkMode
    happened_at: Instant = Field(description="When; not in the future.")
    minutes: int = Field(ge=1, le=24 * 60)
    participants: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        min_length=1, max_length=20, description="Who took part, by role (患者, 配偶, 主治医生 ...)."
    )
    summary: Text


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mode: str
    happened_at: datetime
    minutes: int
    participants: list[str]
    summary: str
    recorded_by: uuid.UUID
    recorded_at: datetime
    version: int


class ConfidentialNoteCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    body: Annotated[str, Field(min_length=1, max_length=4000)] = Field(
        description="Sealed; read only by the case's social workers and supervisor."
    )


class ConfidentialNoteRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    body: str
    written_by: uuid.UUID
    written_at: datetime
    version: int


class ClientRead(BaseModel):
    resident_id: uuid.UUID | None
    name: str
    id_type: str | None
    id_number_masked: str | None
    sex: str | None
    birth_on: date | None


class EvaluationRead(BaseModel):
    goals_met: str
    client_satisfaction: int | None
    summary: str | None


class CaseBrief(BaseModel):
    """A case in a list: never the client's full name, never any note."""

    id: uuid.UUID
    department_id: uuid.UUID
    status: str
    source: str
    service_areas: list[str]
    risk_level: str
    client_name_masked: str
    opened_at: datetime
    plan_approved_at: datetime | None
    closed_at: datetime | None
    version: int


class CaseRead(CaseBrief):
    """``view: area`` for supervision (what stands where); ``view: whole`` for the department's own
    social workers and supervisor. Confidential notes are never here: see ``/confidential-notes``."""

    view: Literal["area", "whole"]
    institution_id: uuid.UUID
    source_report_id: uuid.UUID | None = None
    source_referral_id: uuid.UUID | None = None
    referred_by: str | None = None
    ward: str | None = None
    client: ClientRead | None = None
    workers: list[WorkerRead] = Field(default_factory=list)
    plan_goals: list[str] | None = None
    plan_submitted_at: datetime | None = None
    plan_review_comment: str | None = None
    closure_requested_at: datetime | None = None
    closure_review_comment: str | None = None
    evaluation: EvaluationRead | None = None
    reopened_at: datetime | None = None
    assessments: list[AssessmentRead] = Field(default_factory=list)
    tasks: list[TaskRead] = Field(default_factory=list)
    activities: list[ActivityRead] = Field(default_factory=list)


class CaseTransitionRead(BaseModel):
    from_status: str | None
    to_status: str
    action: str
    actor_id: uuid.UUID
    at: datetime
    reason: str | None


# --- aid applications ------------------------------------------------------------------------


class AidDocument(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] = Field(description="e.g. 低保证明, 住院费用清单")
    kind: AidDocumentKind


class AidCreate(RequestModel):
    id: uuid.UUID | None = _CLIENT_ID
    kind: AidKind
    programme: Name = Field(description="The fund or project applied to (e.g. 城乡医疗救助, 大病救助项目).")
    amount_requested: Decimal = Field(gt=0, le=Decimal("10000000"), max_digits=12, decimal_places=2)
    documents: list[AidDocument] = Field(default_factory=list, max_length=30)


class AidApprove(RequestModel):
    amount_approved: Decimal = Field(gt=0, le=Decimal("10000000"), max_digits=12, decimal_places=2)
    decided_at: Instant | None = Field(default=None, description="When the fund decided; defaults to now.")


class AidReject(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    decided_at: Instant | None = None


class AidStep(RequestModel):
    """Submit, deliver or withdraw: nothing to add but an optional time."""

    at: Instant | None = Field(default=None, description="Defaults to now; not in the future.")


class AidRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    department_id: uuid.UUID
    kind: str
    programme: str
    amount_requested: Decimal
    documents: list[dict[str, str]]
    status: str
    submitted_at: datetime | None
    decided_at: datetime | None
    amount_approved: Decimal | None
    rejection_reason: str | None
    delivered_at: datetime | None
    withdrawn_at: datetime | None
    created_at: datetime
    version: int


class AidTotal(BaseModel):
    kind: str
    applications: int
    submitted: int
    approved: int
    rejected: int
    delivered: int
    amount_requested: Decimal
    amount_approved: Decimal


class AidTotals(BaseModel):
    """Applications created in ``[from, to)`` in scope, per kind (amounts in yuan)."""

    from_: datetime = Field(alias="from")
    to: datetime
    totals: list[AidTotal]

    model_config = ConfigDict(populate_by_name=True)


# --- transfers ---------------------------------------------------------------------------------


class TransferCreate(RequestModel):
    """Hand the case (or its summary) to the resident's community side at discharge."""

    id: uuid.UUID | None = _CLIENT_ID
    scope: TransferScope = TransferScope.SUMMARY
    summary: Annotated[str, Field(min_length=1, max_length=4000)] = Field(
        description="What the community side needs to continue (sealed; confidential notes are never copied)."
    )
    consent: Consent
    discharged_at: Instant = Field(description="When the patient left hospital; not in the future.")
    to_department_id: uuid.UUID | None = Field(
        default=None,
        description="A community social-work station; default: the family doctor team responsible for the "
        "resident's grid now and the village's community steward.",
    )
    referral_id: uuid.UUID | None = Field(
        default=None,
        description="The downward referral of the same discharge; default: the hospital's open one for the resident.",
    )


class TransferAccept(RequestModel):
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class TransferDecline(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TransferFollowUp(RequestModel):
    channel: FollowUpChannel
    outcome: FollowUpOutcome
    at: Instant | None = Field(default=None, description="When it happened; defaults to now.")


class TransferRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    department_id: uuid.UUID
    resident_id: uuid.UUID
    status: str
    scope: str
    summary: str | None = Field(description="For the two sides only; null for supervisors.")
    consent_by: str
    consent_method: str
    consent_at: datetime
    to_team_id: uuid.UUID | None
    to_steward_id: uuid.UUID | None
    to_department_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    discharged_at: datetime
    offered_at: datetime
    answered_at: datetime | None
    receipt_no: str | None
    decline_reason: str | None
    followed_up_at: datetime | None
    follow_up_due_at: datetime | None
    version: int


# --- metrics -----------------------------------------------------------------------------------


class CountBy(BaseModel):
    key: str
    opened: int
    active: int
    closed: int


class SocialWorkMetrics(BaseModel):
    """One period ``[from, to)`` for a department, an institution or an org unit (district, town)."""

    from_: datetime = Field(alias="from")
    to: datetime
    opened: int
    active: int = Field(description="Open at the end of the period (not closed by then).")
    closed: int
    by_service_area: list[CountBy]
    by_source: list[CountBy]
    median_days_intake_to_plan: float | None = Field(description="Null: no plan approved in the period.")
    median_days_plan_to_closure: float | None
    transfers_offered: int
    transfers_accepted: int
    transfers_followed_up_in_time: int
    transfers_follow_up_missed: int
    aid_applications: int
    aid_approved: int
    aid_amount_approved: Decimal

    model_config = ConfigDict(populate_by_name=True)
