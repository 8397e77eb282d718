"""Family-doctor signings (签约) and the contacts with signed residents.

A signing is a period ``[starts_on, ends_on)`` of whole days (China time): ``ends_on`` is the first
day no longer covered. ``contracted_ends_on`` keeps the agreed end; a termination moves ``ends_on``
earlier and records the reason. One signing per resident covers any day (checked under a lock on
the resident row). A renewal is a new signing starting where the old one's contract ends
(``renews_id``; a signing is renewed at most once, unless that renewal is cancelled before it
begins).

A contact's notes are confidential: stored encrypted (AES-GCM, the PII key) and never shown to
sentinels.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class ServicePackage(StrEnum):
    """The district's family-doctor service packages (签约服务包)."""

    BASIC = "basic"  # 基础包: basic public health and basic medical services
    CHRONIC_DISEASE = "chronic_disease"  # 慢病包: hypertension, diabetes and other chronic diseases
    MATERNAL_CHILD = "maternal_child"  # 母婴包: pregnant and postpartum women, children 0-6
    ELDERLY = "elderly"  # 老年人包: people 65+
    REHABILITATION = "rehabilitation"  # 康复包: disability and rehabilitation
    TCM = "tcm"  # 中医药包: traditional Chinese medicine


class TerminationReason(StrEnum):
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    RESIDENT_REQUEST = "resident_request"
    TEAM_CHANGE = "team_change"
    OTHER = "other"


class ContactChannel(StrEnum):
    PHONE = "phone"
    WECHAT = "wechat"
    SMS = "sms"
    HOME_VISIT = "home_visit"
    CLINIC = "clinic"


class ContactOutcome(StrEnum):
    REACHED = "reached"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


# A contact that reached the resident (even one who refused the service) counts for the quarterly duty.
DUTY_OUTCOMES = (ContactOutcome.REACHED.value, ContactOutcome.REFUSED.value)


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Signing(TimestampMixin, Base):
    __tablename__ = "signing"
    __table_args__ = (
        CheckConstraint(f"package in ({_in(ServicePackage)})", name="package"),
        CheckConstraint(f"termination_reason in ({_in(TerminationReason)})", name="termination_reason"),
        CheckConstraint("ends_on >= starts_on and contracted_ends_on >= ends_on", name="period"),
        CheckConstraint("(termination_reason is null) = (terminated_at is null)", name="termination_complete"),
        Index("ix_signing_resident_id_starts_on", "resident_id", "starts_on"),
        # A team's signings in resident order: the duty list and team lists page on the resident id.
        Index("ix_signing_team_id_resident_id", "team_id", "resident_id"),
        # Renewed at most once; a renewal cancelled before it began (an empty period) does not count.
        Index(
            "uq_signing_renews_id",
            "renews_id",
            unique=True,
            postgresql_where=text("renews_id is not null and ends_on > starts_on"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resident.id"))
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    package: Mapped[str] = mapped_column(String(32))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    contracted_ends_on: Mapped[date]
    renews_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("signing.id"))
    signed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    termination_reason: Mapped[str | None] = mapped_column(String(32))
    terminated_at: Mapped[datetime | None]
    terminated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Contact(TimestampMixin, Base):
    """One contact with a signed resident, recorded by a member of the signing's team."""

    __tablename__ = "resident_contact"
    __table_args__ = (
        CheckConstraint(f"channel in ({_in(ContactChannel)})", name="channel"),
        CheckConstraint(f"outcome in ({_in(ContactOutcome)})", name="outcome"),
        Index("ix_resident_contact_resident_id_contacted_at", "resident_id", "contacted_at"),
        Index("ix_resident_contact_team_id_contacted_at", "team_id", "contacted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resident.id"))
    signing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signing.id"), index=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contacted_at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    team_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team_member.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


CONTACT_NOTES = sealed(Contact.notes_enc, context="contact.notes")
