"""Volunteers (志愿者) registered with an institution's social-work department, the shifts it offers them,
the hours they serve, and the department's group and community work sessions.

Every row carries the department's institution, org unit and district (copied, as the department does), so
scope is one join to ``org_unit`` and metrics never walk back through the department.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class ShiftStatus(StrEnum):
    OFFERED = "offered"
    SCHEDULED = "scheduled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class HoursStatus(StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Skill(StrEnum):
    """What a volunteer can do on the wards and in the community (seed 002's volunteer service)."""

    GUIDANCE = "guidance"  # 导诊
    ACCOMPANIMENT = "accompaniment"  # 陪诊陪护
    PSYCHOLOGICAL_SUPPORT = "psychological_support"
    HEALTH_EDUCATION = "health_education"
    ELDERLY_CARE = "elderly_care"
    CHILD_CARE = "child_care"
    REHABILITATION = "rehabilitation"
    ARTS = "arts"
    TRANSLATION = "translation"
    ADMINISTRATION = "administration"
    OTHER = "other"


class Slot(StrEnum):
    """A half day of the week a volunteer is usually free."""

    MON_AM = "mon_am"
    MON_PM = "mon_pm"
    TUE_AM = "tue_am"
    TUE_PM = "tue_pm"
    WED_AM = "wed_am"
    WED_PM = "wed_pm"
    THU_AM = "thu_am"
    THU_PM = "thu_pm"
    FRI_AM = "fri_am"
    FRI_PM = "fri_pm"
    SAT_AM = "sat_am"
    SAT_PM = "sat_pm"
    SUN_AM = "sun_am"
    SUN_PM = "sun_pm"


class SessionKind(StrEnum):
    GROUP = "group"  # 小组工作
    COMMUNITY = "community"  # 社区工作


class PromotionTopic(StrEnum):
    """Community health promotion with the village public-health committees (seed 002, area 5)."""

    CHRONIC_DISEASE = "chronic_disease"
    SEVERE_MENTAL_DISORDER = "severe_mental_disorder"
    SIGNING = "signing"
    ELDERLY_CARE = "elderly_care"
    OTHER = "other"


class _DepartmentScoped:
    """Columns every record of a department carries for scope and metrics."""

    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_work_department.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)


class Volunteer(_DepartmentScoped, TimestampMixin, Base):
    """A person registered as a volunteer with an institution's social-work department.

    ``certificates`` is a list of ``{"name", "number", "expires_on"}``; ``paired_user_id`` the social
    worker the volunteer works beside (双工联动); ``user_id`` their own login (a ``volunteer`` grant naming the
    institution), through which they submit their hours.
    """

    __tablename__ = "volunteer"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default=text("'{}'"))
    certificates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    availability: Mapped[list[str]] = mapped_column(ARRAY(String(8)), server_default=text("'{}'"))
    paired_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), unique=True)
    registered_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class VolunteerShift(_DepartmentScoped, TimestampMixin, Base):
    """A shift or task a department offers (`offered`), given to a volunteer (`scheduled`), then
    `attended`, `no_show` or `cancelled`."""

    __tablename__ = "volunteer_shift"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="period"),
        CheckConstraint("status in ('offered','scheduled','attended','no_show','cancelled')", name="status"),
        CheckConstraint("status in ('offered','cancelled') or volunteer_id is not null", name="volunteer_when_given"),
        Index("ix_volunteer_shift_department_id_starts_at", "department_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    volunteer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class VolunteerHours(_DepartmentScoped, TimestampMixin, Base):
    """Hours a volunteer served on a day, submitted by them or recorded by a social worker, then
    verified or rejected by a social worker of the department. One live entry per attended shift."""

    __tablename__ = "volunteer_hours"
    __table_args__ = (
        CheckConstraint("hours > 0 and hours <= 24", name="hours"),
        CheckConstraint("status in ('submitted','verified','rejected')", name="status"),
        Index(
            "ix_volunteer_hours_shift_id_live",
            "shift_id",
            unique=True,
            postgresql_where=text("shift_id is not null and status <> 'rejected'"),
        ),
        Index("ix_volunteer_hours_volunteer_id_served_on", "volunteer_id", "served_on"),
        Index("ix_volunteer_hours_status_submitted_at", "status", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer.id"))
    shift_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_shift.id"))
    served_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    activity: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    rejection_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class GroupSession(_DepartmentScoped, TimestampMixin, Base):
    """A group or community work session (小组 / 社区工作): topic, when, facilitator, how many took part.

    Participants are counted; a participant is named (``named_participants``) only when they consented,
    and a community health promotion session names its village.
    """

    __tablename__ = "group_session"
    __table_args__ = (
        CheckConstraint("kind in ('group','community')", name="kind"),
        CheckConstraint("participant_count >= 0", name="participant_count"),
        CheckConstraint("minutes > 0", name="minutes"),
        Index("ix_group_session_department_id_held_at", "department_id", "held_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(200))
    promotion_topic: Mapped[str | None] = mapped_column(String(32))
    held_at: Mapped[datetime]
    minutes: Mapped[int]
    facilitator_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    participant_count: Mapped[int]
    named_participants: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    village_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
