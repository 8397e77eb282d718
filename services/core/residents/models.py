"""Residents, their key-population tags, and the idempotency keys of safe creates.

The resident row holds no identity number or phone in clear: ``*_enc`` is AES-GCM
ciphertext, ``*_bidx`` the keyed blind index, ``*_masked`` the display form (so lists
never decrypt). ``change_xid`` is the top-level transaction id of the last change,
set by a trigger (see the migration); the delta sync pages on it.

Family-doctor signing will live in its own table with a ``team_id``; nothing here
assumes a team.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class KeyPopulation(StrEnum):
    """The nine key populations (重点人群)."""

    CHILDREN_0_6 = "children_0_6"
    PREGNANT_POSTPARTUM = "pregnant_postpartum"
    ELDERLY_65_PLUS = "elderly_65_plus"
    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"
    SEVERE_MENTAL_DISORDER = "severe_mental_disorder"
    TUBERCULOSIS = "tuberculosis"
    HIV_AIDS = "hiv_aids"
    DISABILITY = "disability"


class TagSource(StrEnum):
    SENTINEL_REPORT = "sentinel_report"
    CLINIC = "clinic"
    IMPORT = "import"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Resident(TimestampMixin, Base):
    __tablename__ = "resident"
    __table_args__ = (
        CheckConstraint("sex in ('male','female','unknown')", name="sex"),
        CheckConstraint("id_type in ('01','02','03','04','05','06','07','99')", name="id_type"),
        CheckConstraint(
            "(id_number_enc is null) = (id_number_bidx is null) and (id_number_enc is null) = (id_type is null)",
            name="id_number_complete",
        ),
        CheckConstraint("(phone_enc is null) = (phone_bidx is null)", name="phone_complete"),
        # One record per identity number per district; found by the blind index, never by the number.
        # Digest first: exact lookups by number (any district in scope) use the same index.
        Index(
            "uq_resident_id_number_bidx_district_id",
            "id_number_bidx",
            "district_id",
            unique=True,
            postgresql_where=text("id_number_bidx is not null"),
        ),
        Index("ix_resident_phone_bidx", "phone_bidx", postgresql_where=text("phone_bidx is not null")),
        Index("ix_resident_grid_id_name_birth_on", "grid_id", "name", "birth_on"),
        Index("ix_resident_change_xid_id", "change_xid", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"))
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(8))
    birth_on: Mapped[date]
    id_type: Mapped[str | None] = mapped_column(String(2))
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_masked: Mapped[str | None] = mapped_column(String(40))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    household_code: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    change_xid: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint"))
    died_on: Mapped[date | None]  # a deceased resident's record stays (history); the sync answers a tombstone

    tags: Mapped[list[ResidentTag]] = relationship(
        back_populates="resident", lazy="raise", order_by="ResidentTag.since_on"
    )

    __mapper_args__ = {"version_id_col": version}


ID_NUMBER = sealed(
    Resident.id_number_enc, context="resident.id_number", blind_index=Resident.id_number_bidx, index_kind="id"
)
PHONE = sealed(Resident.phone_enc, context="resident.phone", blind_index=Resident.phone_bidx, index_kind="phone")


class RemovalReason(StrEnum):
    """Why a resident left a phone's sync: moved to a grid outside its area, died, or the record was deleted."""

    MOVED_OUT = "moved_out"
    DIED = "died"
    DELETED = "deleted"


class ResidentTombstone(Base):
    """A resident leaving the grid at ``from_path``: what the delta sync answers to phones whose area holds
    that grid (and not ``to_path``, where the resident moved), so they drop their copy exactly once.

    Written by triggers on ``resident`` (see the migration), so every writer — the API, the bulk import,
    an operator's SQL — leaves one; ``change_xid`` is the writing transaction's id, the same order and
    horizon as ``resident.change_xid``. No foreign key to the resident: a deleted one is gone.
    """

    __tablename__ = "resident_tombstone"
    __table_args__ = (
        CheckConstraint(f"reason in ({_in(RemovalReason)})", name="reason"),
        Index("ix_resident_tombstone_change_xid_id", "change_xid", "id"),
        Index("ix_resident_tombstone_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    resident_id: Mapped[uuid.UUID]
    district_id: Mapped[uuid.UUID]
    from_path: Mapped[str] = mapped_column(String(200))
    to_path: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(16))
    change_xid: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint"))
    # The database's time (a trigger writes the row): when the removal's transaction began. Pruned after
    # ``sync_tombstone_days`` (``residents/retention.py``).
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class SyncRetention(Base):
    """Per sync stream, the last removal pruned in sync order (``change_xid``, ``id``): a cursor before it
    may have missed one, so it is answered 410 and the phone syncs from the beginning."""

    __tablename__ = "sync_retention"

    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    pruned_through_xid: Mapped[int] = mapped_column(BigInteger)
    pruned_through_id: Mapped[uuid.UUID]
    pruned_at: Mapped[datetime]


class ResidentTag(TimestampMixin, Base):
    __tablename__ = "resident_tag"
    __table_args__ = (
        CheckConstraint(f"population in ({_in(KeyPopulation)})", name="population"),
        CheckConstraint(f"source in ({_in(TagSource)})", name="source"),
        CheckConstraint("until_on is null or until_on >= since_on", name="period"),
        Index("ix_resident_tag_resident_id_population", "resident_id", "population"),
        Index("ix_resident_tag_district_id_population", "district_id", "population"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resident.id"))
    district_id: Mapped[uuid.UUID]
    population: Mapped[str] = mapped_column(String(32))
    since_on: Mapped[date]
    until_on: Mapped[date | None]
    source: Mapped[str] = mapped_column(String(16))
    reported_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    resident: Mapped[Resident] = relationship(back_populates="tags", lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class IdempotencyKey(Base):
    """``Idempotency-Key`` of a create, per caller: the same key and body get the same answer."""

    __tablename__ = "idempotency_key"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID]
    status_code: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(index=True)
