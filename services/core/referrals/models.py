"""Referrals, the identifiers each hospital system gives them, and the per-institution change feed.

A referral's history of states is ``record_transition`` (subject ``referral``). Clinical text (the
reason, the clinical summary, the discharge summary, follow-up notes) is AES-GCM sealed; the rest
is plain. ``grid_id``/``village_id``/``town_id`` are the resident's at request time, so scope and
metrics never walk the tree.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class Direction(StrEnum):
    UPWARD = "upward"  # a primary team -> a district institution (上转)
    DOWNWARD = "downward"  # an institution -> the primary team responsible for the resident (下转)


class ReferralStatus(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ON_HOLD = "on_hold"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TAKEN_OVER = "taken_over"
    FOLLOWED_UP = "followed_up"


OPEN_STATUSES = frozenset(
    {
        ReferralStatus.REQUESTED,
        ReferralStatus.RECEIVED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.ON_HOLD,
        ReferralStatus.ARRIVED,
        ReferralStatus.TAKEN_OVER,
        ReferralStatus.FOLLOWED_UP,
    }
)


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


class DepartmentKind(StrEnum):
    """The district's four departments backing the primary teams (精品家医四大部)."""

    CHRONIC_DISEASE = "chronic_disease"
    TCM_WELLNESS = "tcm_wellness"
    MATERNAL_CHILD = "maternal_child"
    SPECIALIST = "specialist"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"  # 无床位/号源
    NOT_INDICATED = "not_indicated"  # 无转诊指征
    PATIENT_REFUSED = "patient_refused"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    NOT_OUR_AREA = "not_our_area"  # downward: the resident does not live in the team's area
    OTHER = "other"  # with a text


class ConsentBy(StrEnum):
    PATIENT = "patient"
    GUARDIAN = "guardian"  # 监护人/近亲属


class ConsentMethod(StrEnum):
    WRITTEN = "written"  # 签署知情同意书
    ELECTRONIC = "electronic"
    VERBAL = "verbal"  # recorded by the doctor, witnessed


class FollowUpChannel(StrEnum):
    PHONE = "phone"
    WECHAT = "wechat"
    SMS = "sms"
    HOME_VISIT = "home_visit"
    CLINIC = "clinic"


class FollowUpOutcome(StrEnum):
    REACHED = "reached"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Referral(TimestampMixin, Base):
    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(f"direction in ({_in(Direction)})", name="direction"),
        CheckConstraint(f"status in ({_in(ReferralStatus)})", name="status"),
        CheckConstraint(f"urgency in ({_in(Urgency)})", name="urgency"),
        CheckConstraint(f"decline_reason is null or decline_reason in ({_in(DeclineReason)})", name="decline_reason"),
        CheckConstraint("direction = 'downward' or from_team_id is not null", name="upward_has_a_team"),
        CheckConstraint("direction = 'upward' or to_team_id is not null", name="downward_has_a_team"),
        Index("ix_referral_district_id_requested_at", "district_id", "requested_at"),
        Index("ix_referral_from_institution_id_requested_at", "from_institution_id", "requested_at"),
        Index("ix_referral_to_institution_id_requested_at", "to_institution_id", "requested_at"),
        Index("ix_referral_from_team_id_status", "from_team_id", "status"),
        Index("ix_referral_to_team_id_status", "to_team_id", "status"),
        Index("ix_referral_town_id_requested_at", "town_id", "requested_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID]
    direction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # The referral this one continues (a downward one after an upward one) or reopens.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referral.id"), index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resident.id"), index=True)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    village_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    town_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    signing_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("signing.id"))
    priority: Mapped[bool] = mapped_column(default=False)  # a signed resident: priority booking (优先预约)
    from_institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    from_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id"))
    from_doctor: Mapped[str | None] = mapped_column(String(100))
    to_institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    to_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id"))
    to_department: Mapped[str | None] = mapped_column(String(100))
    department_kind: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    summary_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    consent_by: Mapped[str] = mapped_column(String(16))
    consent_method: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    consent_recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    requested_at: Mapped[datetime]
    body_digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]
    appointment_department: Mapped[str | None] = mapped_column(String(100))
    appointment_doctor: Mapped[str | None] = mapped_column(String(100))
    appointment_bed: Mapped[str | None] = mapped_column(String(50))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    decline_note: Mapped[str | None] = mapped_column(String(500))
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    arrived_at: Mapped[datetime | None]
    discharged_at: Mapped[datetime | None]
    outcome_summary_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    completed_at: Mapped[datetime | None]
    taken_over_at: Mapped[datetime | None]
    taken_over_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    first_follow_up_at: Mapped[datetime | None]
    follow_up_channel: Mapped[str | None] = mapped_column(String(16))
    follow_up_outcome: Mapped[str | None] = mapped_column(String(16))
    follow_up_notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


REASON = sealed(Referral.reason_enc, context="referral.reason")
SUMMARY = sealed(Referral.summary_enc, context="referral.summary")
OUTCOME_SUMMARY = sealed(Referral.outcome_summary_enc, context="referral.outcome_summary")
FOLLOW_UP_NOTES = sealed(Referral.follow_up_notes_enc, context="referral.follow_up_notes")


class ReferralIdentifier(Base):
    """An identifier a hospital system gave a referral: ``(system, value)`` names one referral, ever."""

    __tablename__ = "referral_identifier"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[uuid.UUID]
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))
    assigned_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    assigned_at: Mapped[datetime]


class ReferralFeedCounter(Base):
    """Per institution, the number of its latest referral change. Taking the next number locks the
    row until commit, so an institution's changes commit in number order (as the inbox's do)."""

    __tablename__ = "referral_feed_counter"

    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class ReferralChange(Base):
    """One change of one referral, as an institution's systems poll it (``GET /referrals/changes``)."""

    __tablename__ = "referral_change"

    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
