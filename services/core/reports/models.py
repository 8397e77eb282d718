"""Sentinel reports (哨兵上报) and their follow-ups (their history of states is ``record_transition``).

A report is created with the id its phone chose (a replay is the same report). The team
responsible for the grid at submission time is fixed on the row (``team_id``; NULL and
``unrouted`` when no team was responsible). ``village_id`` and ``town_id`` are copied from
the grid so the loop metrics group without walking the tree.

A new-resident draft holds no identity number or phone in clear: ``draft_id_number_enc``
and ``draft_phone_enc`` are AES-GCM ciphertext (context ``report.<field>:<report id>``);
the JSON draft keeps only the masked forms.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class ReportCategory(StrEnum):
    NEW_KEY_POPULATION = "new_key_population"
    HEALTH_NEED = "health_need"
    URGENT_RISK = "urgent_risk"
    MEDICINE_DELIVERY = "medicine_delivery"
    OTHER = "other"


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    REPORTED_IN = "reported_in"
    FOLLOWED_UP = "followed_up"
    INTERVENING = "intervening"
    CLOSED = "closed"
    CANCELLED = "cancelled"


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


class CloseOutcome(StrEnum):
    """How the intervention ended."""

    RESOLVED = "resolved"
    UNDER_MANAGEMENT = "under_management"  # taken into the team's regular management
    REFERRED = "referred"
    RESIDENT_DECLINED = "resident_declined"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    NO_ACTION_NEEDED = "no_action_needed"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class SentinelReport(TimestampMixin, Base):
    __tablename__ = "sentinel_report"
    __table_args__ = (
        CheckConstraint(f"category in ({_in(ReportCategory)})", name="category"),
        CheckConstraint(f"status in ({_in(ReportStatus)})", name="status"),
        CheckConstraint(f"outcome is null or outcome in ({_in(CloseOutcome)})", name="outcome"),
        CheckConstraint("(status = 'closed') = (closed_at is not null)", name="closed_iff_closed_at"),
        CheckConstraint("unrouted = (team_id is null) or reported_in_at is not null", name="unrouted"),
        CheckConstraint("resident_id is null or resident_draft is null", name="resident_or_draft"),
        Index("ix_sentinel_report_district_id_submitted_at", "district_id", "submitted_at"),
        Index("ix_sentinel_report_grid_id_submitted_at", "grid_id", "submitted_at"),
        Index("ix_sentinel_report_town_id_submitted_at", "town_id", "submitted_at"),
        Index("ix_sentinel_report_team_id_status", "team_id", "status"),
        Index("ix_sentinel_report_reporter_id_submitted_at", "reporter_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID]
    town_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    village_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.SUBMITTED.value)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    resident_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resident.id"), index=True)
    resident_draft: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    draft_id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    draft_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    reporter_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id"))
    unrouted: Mapped[bool] = mapped_column(default=False)
    observed_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime]
    # A keyed digest (blind index) of the request body: a replay with another body is refused.
    body_digest: Mapped[str] = mapped_column(String(64))
    reported_in_at: Mapped[datetime | None]
    reported_in_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    first_follow_up_at: Mapped[datetime | None]
    intervention_started_at: Mapped[datetime | None]
    intervention_plan: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_notes: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


DRAFT_ID_NUMBER = sealed(SentinelReport.draft_id_number_enc, context="report.id_number")
DRAFT_PHONE = sealed(SentinelReport.draft_phone_enc, context="report.phone")


class ReportFollowUp(Base):
    """One recorded contact with the resident."""

    __tablename__ = "report_follow_up"
    __table_args__ = (
        CheckConstraint(f"channel in ({_in(FollowUpChannel)})", name="channel"),
        CheckConstraint(f"outcome in ({_in(FollowUpOutcome)})", name="outcome"),
        Index("ix_report_follow_up_report_id_contacted_at", "report_id", "contacted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sentinel_report.id", ondelete="CASCADE"))
    district_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    contacted_at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime]
