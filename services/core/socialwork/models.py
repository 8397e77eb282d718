"""Social-work departments and the case records their social workers keep.

A department belongs to one institution (at most one each); a social worker's or supervisor's
role grant names that institution, which is how they are scoped to the department.
``org_unit_id``/``district_id`` are the institution's, copied so scope and metrics never join
back through it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class SocialWorkDepartment(TimestampMixin, Base):
    """An institution's social-work department (社会工作部): one per institution."""

    __tablename__ = "social_work_department"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # A community social-work station (社区社工站) is a department of a primary institution that takes
    # discharged patients' cases over; hospitals' departments hand cases to it.
    is_station: Mapped[bool] = mapped_column(default=False)
    established_on: Mapped[date | None] = mapped_column(Date)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class CaseStatus(StrEnum):
    INTAKE = "intake"
    ASSESSING = "assessing"
    PLANNING = "planning"
    ACTIVE = "active"
    CLOSURE_REQUESTED = "closure_requested"
    CLOSED = "closed"
    REOPENED = "reopened"


OPEN_CASE_STATUSES = frozenset(set(CaseStatus) - {CaseStatus.CLOSED})


class CaseSource(StrEnum):
    WARD_REFERRAL = "ward_referral"  # a doctor or nurse of a ward refers the patient (病区转介)
    SELF = "self"
    FAMILY = "family"
    SENTINEL_REPORT = "sentinel_report"  # a grid sentinel's report (网格吹哨)
    REFERRAL = "referral"  # a two-way referral (双向转诊)
    COMMUNITY_ORGANISATION = "community_organisation"


class ServiceArea(StrEnum):
    """Seed 002's six service areas of hospital social work."""

    PSYCHOSOCIAL = "psychosocial"  # 心理社会支持
    RESOURCE_INTEGRATION = "resource_integration"  # 社会资源整合
    DOCTOR_PATIENT = "doctor_patient"  # 医患关系协调
    VOLUNTEER = "volunteer"  # 志愿者服务
    COMMUNITY_HEALTH = "community_health"  # 社区健康促进
    OTHER = "other"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"  # self-harm, violence, abandonment: act today


class SocialWorkCase(TimestampMixin, Base):
    """A case (个案). The client is a resident, or a patient not (yet) a resident, whose name and ID are
    sealed like residents' identity. ``org_unit_id`` is the department's unit (scope); ``grid_id`` the
    resident's grid at intake (a transfer routes by the grid the resident lives in at discharge)."""

    __tablename__ = "social_work_case"
    __table_args__ = (
        CheckConstraint(f"status in ({_in(CaseStatus)})", name="status"),
        CheckConstraint(f"source in ({_in(CaseSource)})", name="source"),
        CheckConstraint(f"risk_level in ({_in(RiskLevel)})", name="risk_level"),
        CheckConstraint("resident_id is not null or client_name_enc is not null", name="has_a_client"),
        CheckConstraint("client_satisfaction is null or client_satisfaction between 1 and 5", name="satisfaction"),
        Index("ix_social_work_case_department_id_opened_at", "department_id", "opened_at"),
        Index("ix_social_work_case_district_id_opened_at", "district_id", "opened_at"),
        Index("ix_social_work_case_institution_id_opened_at", "institution_id", "opened_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID]
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_department.id"))
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    status: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(32))
    source_report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sentinel_report.id"))
    source_referral_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referral.id"))
    referred_by: Mapped[str | None] = mapped_column(String(100))  # the ward and doctor, as they wrote it
    resident_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resident.id"), index=True)
    grid_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_unit.id"))
    client_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    client_name_masked: Mapped[str] = mapped_column(String(60))
    client_id_type: Mapped[str | None] = mapped_column(String(2))
    client_id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    client_id_number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    client_id_number_masked: Mapped[str | None] = mapped_column(String(40))
    client_sex: Mapped[str | None] = mapped_column(String(8))
    client_birth_on: Mapped[date | None] = mapped_column(Date)
    ward: Mapped[str | None] = mapped_column(String(100))  # 病区/床号 where the patient lies
    service_areas: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    risk_level: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    opened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    plan_goals: Mapped[list[str] | None] = mapped_column(JSONB)
    plan_submitted_at: Mapped[datetime | None]
    plan_approved_at: Mapped[datetime | None]  # the first approval: "intake -> plan" in the metrics
    plan_review_comment: Mapped[str | None] = mapped_column(String(1000))
    closure_requested_at: Mapped[datetime | None]
    closure_review_comment: Mapped[str | None] = mapped_column(String(1000))
    goals_met: Mapped[str | None] = mapped_column(String(16))
    client_satisfaction: Mapped[int | None]
    closing_summary: Mapped[str | None] = mapped_column(String(2000))
    closed_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


CLIENT_NAME = sealed(SocialWorkCase.client_name_enc, context="social_work_case.client_name")
CLIENT_ID_NUMBER = sealed(
    SocialWorkCase.client_id_number_enc,
    context="social_work_case.client_id_number",
    blind_index=SocialWorkCase.client_id_number_bidx,
    index_kind="id",
)


class CaseWorker(Base):
    """A social worker assigned to a case (the case's social workers; one of them is the lead)."""

    __tablename__ = "social_work_case_worker"
    __table_args__ = (
        UniqueConstraint("case_id", "user_id"),
        Index("ix_social_work_case_worker_user_id_case_id", "user_id", "case_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    lead: Mapped[bool] = mapped_column(default=False)
    assigned_at: Mapped[datetime]


class Assessment(Base):
    """A psycho-social assessment: the domains looked at, the instrument and score where one was used."""

    __tablename__ = "social_work_assessment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    district_id: Mapped[uuid.UUID]
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    instrument: Mapped[str | None] = mapped_column(String(50))  # e.g. PHQ-9, GAD-7, SSRS (社会支持评定量表)
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    risk_level: Mapped[str] = mapped_column(String(16))
    findings: Mapped[str | None] = mapped_column(String(2000))
    assessed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    assessed_at: Mapped[datetime]


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"  # replaced by a revised plan


class PlanTask(TimestampMixin, Base):
    """A task of a case's plan with its owner and due time; reminds through the deadline engine."""

    __tablename__ = "social_work_task"
    __table_args__ = (CheckConstraint(f"status in ({_in(TaskStatus)})", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    district_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN.value)
    done_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class WorkMode(StrEnum):
    INDIVIDUAL = "individual"
    FAMILY = "family"
    GROUP = "group"
    COMMUNITY = "community"


class Activity(Base):
    """An activity note: what kind of work, when, how long, who took part (roles, not names)."""

    __tablename__ = "social_work_activity"
    __table_args__ = (
        CheckConstraint(f"mode in ({_in(WorkMode)})", name="mode"),
        CheckConstraint("minutes > 0", name="minutes"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    district_id: Mapped[uuid.UUID]
    mode: Mapped[str] = mapped_column(String(16))
    happened_at: Mapped[datetime]
    minutes: Mapped[int]
    participants: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    summary: Mapped[str] = mapped_column(String(2000))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)  # never changes: a note is kept as written


class ConfidentialNote(Base):
    """A confidential note (保密记录): sealed; read only by the case's social workers and the department's
    supervisor, every read audited; never in a list of cases, an export, a notification or a log."""

    __tablename__ = "social_work_confidential_note"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    district_id: Mapped[uuid.UUID]
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    written_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    written_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)  # never changes: a note is kept as written


CONFIDENTIAL_BODY = sealed(ConfidentialNote.body_enc, context="social_work_confidential_note.body")


class AidKind(StrEnum):
    MEDICAL_AID = "medical_aid"  # 医疗救助
    CHARITY = "charity"  # 慈善/公益项目


class AidStatus(StrEnum):
    DRAFTED = "drafted"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    WITHDRAWN = "withdrawn"


class AidApplication(TimestampMixin, Base):
    """A medical-aid or charity application for a patient in financial difficulty (amounts in yuan)."""

    __tablename__ = "social_work_aid_application"
    __table_args__ = (
        CheckConstraint(f"kind in ({_in(AidKind)})", name="kind"),
        CheckConstraint(f"status in ({_in(AidStatus)})", name="status"),
        CheckConstraint("amount_requested > 0", name="amount_requested"),
        CheckConstraint("amount_approved is null or amount_approved > 0", name="amount_approved"),
        Index("ix_social_work_aid_application_department_id_created_at", "department_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_department.id"))
    district_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    programme: Mapped[str] = mapped_column(String(100))  # the fund or project applied to
    amount_requested: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    documents: Mapped[list[dict[str, str]]] = mapped_column(JSONB)  # [{name, kind}], never the files
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    amount_approved: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class TransferStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    FOLLOWED_UP = "followed_up"
    CANCELLED = "cancelled"


class TransferScope(StrEnum):
    CASE = "case"  # the whole case is handed over
    SUMMARY = "summary"  # only its summary


class Transfer(TimestampMixin, Base):
    """A hospital-to-community transfer at discharge (两向转介): handed to the family doctor team responsible
    for the resident's grid at that moment and the village's community steward, or to a community
    social-work station; answered with a receipt (转接回执) or declined with a reason; followed up."""

    __tablename__ = "social_work_transfer"
    __table_args__ = (
        CheckConstraint(f"status in ({_in(TransferStatus)})", name="status"),
        CheckConstraint(f"scope in ({_in(TransferScope)})", name="scope"),
        CheckConstraint("to_team_id is not null or to_department_id is not null", name="has_a_receiver"),
        Index("ix_social_work_transfer_to_team_id_status", "to_team_id", "status"),
        Index("ix_social_work_transfer_district_id_offered_at", "district_id", "offered_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_case.id"), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_department.id"))
    district_id: Mapped[uuid.UUID]
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resident.id"))
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    village_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    status: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    summary_enc: Mapped[bytes] = mapped_column(LargeBinary)
    consent_by: Mapped[str] = mapped_column(String(16))
    consent_method: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    to_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id"))
    to_steward_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"))  # the village's, at the time
    to_department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("social_work_department.id"))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referral.id"))
    discharged_at: Mapped[datetime]
    offered_at: Mapped[datetime]
    offered_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    followed_up_at: Mapped[datetime | None]
    follow_up_channel: Mapped[str | None] = mapped_column(String(16))
    follow_up_outcome: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


TRANSFER_SUMMARY = sealed(Transfer.summary_enc, context="social_work_transfer.summary")
