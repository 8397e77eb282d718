"""Duty records (work days, livestreams, submissions) and the ledger that makes every check tell once.

Work days and livestreams are facts a client records (a client id, safe to retry); a submission
records who handed in which yearly document for a town. ``DutyNotice`` is the exactly-once key of the
periodic checks: a check inserts its row ``ON CONFLICT DO NOTHING`` in the same transaction as the
notifications it sends, so a re-run, a second worker or a flushed Redis tells nobody twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class WorkDayActivity(StrEnum):
    """What a team does on a family doctor work day (家庭医生工作日, seed 003 §二(二)1(3))."""

    CONSULTATION = "consultation"  # 义诊咨询
    HEALTH_CHECK = "health_check"  # 健康体检
    SIGNING = "signing"  # 签约服务
    FOLLOW_UP = "follow_up"  # 慢病随访
    HEALTH_EDUCATION = "health_education"  # 健康宣教
    HOME_VISIT = "home_visit"  # 入户访视
    MEDICATION_GUIDANCE = "medication_guidance"  # 用药指导
    TCM = "tcm"  # 中医药服务
    OTHER = "other"


class YearlyDuty(StrEnum):
    """The documents due once a year (seed 003 §三(四)): the member roster and the annual work summary."""

    ROSTER = "roster"
    ANNUAL_SUMMARY = "annual_summary"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class WorkDay(TimestampMixin, Base):
    """One family doctor work day held by a team on ``held_on`` (China date)."""

    __tablename__ = "work_day"
    __table_args__ = (
        CheckConstraint("residents_served >= 0", name="residents_served"),
        Index("ix_work_day_team_id_held_on", "team_id", "held_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    held_on: Mapped[date] = mapped_column(Date)
    activities: Mapped[list[str]] = mapped_column(JSONB)
    notes: Mapped[str | None] = mapped_column(String(1000))
    residents_served: Mapped[int] = mapped_column(Integer)
    # Named residents are optional (most days serve passers-by); ids only, their names stay in residents.
    resident_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class WorkDayUnit(Base):
    """A village or grid a work day was held in; ``village_id`` is the village either way (for coverage)."""

    __tablename__ = "work_day_unit"

    work_day_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work_day.id", ondelete="CASCADE"), primary_key=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), primary_key=True, index=True)
    village_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    position: Mapped[int] = mapped_column(Integer)


class Livestream(TimestampMixin, Base):
    """One health livestream (健康直播) of an institution: when, how long, on what, questions answered."""

    __tablename__ = "livestream"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration"),
        CheckConstraint("questions_answered >= 0", name="questions"),
        Index("ix_livestream_institution_id_started_at", "institution_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    started_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    questions_answered: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class DutySubmission(TimestampMixin, Base):
    """A yearly document handed in for a town (and, when given, by one of its institutions)."""

    __tablename__ = "duty_submission"
    __table_args__ = (
        CheckConstraint(f"duty in ({_in(YearlyDuty)})", name="duty"),
        CheckConstraint("attachment_name is not null or content is not null", name="what"),
        Index("ix_duty_submission_duty_year_org_unit_id", "duty", "year", "org_unit_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    duty: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institution.id"))
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(String(10000))
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    submitted_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class DutyNotice(Base):
    """A check that told someone: its primary key is what makes it tell once per duty, stage, period and subject.

    ``subject_id`` is what the duty is about (a team, an institution, a team membership) or, for the
    yearly due dates, the account told (once per year and recipient).
    """

    __tablename__ = "duty_notice"

    duty: Mapped[str] = mapped_column(String(32), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    district_id: Mapped[uuid.UUID]
    fired_at: Mapped[datetime]
    recipient_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
