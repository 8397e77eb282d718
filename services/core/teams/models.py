"""People, teams and the periods that tie them together (institutions: ``core/org/models.py``).

Every "who held which role when" is a row with a half-open period
``[starts_at, ends_at)`` (``ends_at`` null = open-ended), never a column that is
overwritten, so any past instant can be answered.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id

# An institution is part of the organisation (accounts' grants name one), so its model lives in
# core/org; re-exported here for the teams code that manages institutions.
from services.core.org.models import Institution as Institution
from services.core.security.sealed import sealed


class InstitutionKind(StrEnum):
    DISTRICT_HOSPITAL = "district_hospital"
    TCM_HOSPITAL = "tcm_hospital"
    MATERNAL_CHILD = "maternal_child"
    CDC = "cdc"
    TOWNSHIP_HEALTH_CENTER = "township_health_center"
    COMMUNITY_HEALTH_CENTER = "community_health_center"
    SOCIAL_CLINIC = "social_clinic"
    NURSING_STATION = "nursing_station"


class InstitutionLevel(StrEnum):
    DISTRICT = "district"
    PRIMARY = "primary"
    SOCIAL = "social"


LEVEL_OF_KIND = {
    InstitutionKind.DISTRICT_HOSPITAL: InstitutionLevel.DISTRICT,
    InstitutionKind.TCM_HOSPITAL: InstitutionLevel.DISTRICT,
    InstitutionKind.MATERNAL_CHILD: InstitutionLevel.DISTRICT,
    InstitutionKind.CDC: InstitutionLevel.DISTRICT,
    InstitutionKind.TOWNSHIP_HEALTH_CENTER: InstitutionLevel.PRIMARY,
    InstitutionKind.COMMUNITY_HEALTH_CENTER: InstitutionLevel.PRIMARY,
    InstitutionKind.SOCIAL_CLINIC: InstitutionLevel.SOCIAL,
    InstitutionKind.NURSING_STATION: InstitutionLevel.SOCIAL,
}


class PersonKind(StrEnum):
    STAFF = "staff"
    COMMUNITY_WORKER = "community_worker"


class Discipline(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    PUBLIC_HEALTH = "public_health"
    PHARMACIST = "pharmacist"
    REHABILITATION = "rehabilitation"
    OTHER = "other"


class TeamKind(StrEnum):
    """A primary family doctor team, or one of the district's "four departments"."""

    PRIMARY = "primary"
    CHRONIC_DISEASE = "chronic_disease"
    TCM_WELLNESS = "tcm_wellness"
    MATERNAL_CHILD = "maternal_child"
    SPECIALIST = "specialist"


class TeamLevel(StrEnum):
    """The three levels of technical guidance: district backs town backs village."""

    DISTRICT = "district"
    TOWN = "town"
    VILLAGE = "village"


class TeamStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISSOLVED = "dissolved"


class MemberRole(StrEnum):
    LEADER = "leader"
    MEMBER = "member"


class Person(TimestampMixin, Base):
    """Staff (with a discipline) or a community worker; roles are period rows elsewhere."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("kind in ('staff','community_worker')", name="kind"),
        CheckConstraint("(kind = 'staff') = (discipline is not null)", name="discipline_iff_staff"),
        Index("ix_person_district_id_mobile_bidx", "district_id", "mobile_bidx"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    discipline: Mapped[str | None] = mapped_column(String(32))
    # The 11-digit mobile is personal data: sealed (context ``person.mobile:<id>``), found by its blind index.
    mobile_enc: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_bidx: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_masked: Mapped[str] = mapped_column(String(11))
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institution.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), unique=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


MOBILE = sealed(Person.mobile_enc, context="person.mobile", blind_index=Person.mobile_bidx, index_kind="person_mobile")


class InstitutionSteward(TimestampMixin, Base):
    """The institution's family-doctor steward (医疗机构家医管家) for a period; one at a time."""

    __tablename__ = "institution_steward"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        Index("ix_institution_steward_institution_id_starts_at", "institution_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Team(TimestampMixin, Base):
    """A family doctor team of an institution, based in an org unit (its home area)."""

    __tablename__ = "team"
    __table_args__ = (
        CheckConstraint(
            "kind in ('primary','chronic_disease','tcm_wellness','maternal_child','specialist')", name="kind"
        ),
        CheckConstraint("level in ('district','town','village')", name="level"),
        CheckConstraint("status in ('active','suspended','dissolved')", name="status"),
        Index("ix_team_institution_id_name", "institution_id", "name", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    service_phone: Mapped[str | None] = mapped_column(String(20))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class TeamMember(TimestampMixin, Base):
    """A person on a team for a period, as its leader (one at a time) or a member."""

    __tablename__ = "team_member"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("role in ('leader','member')", name="role"),
        Index("ix_team_member_team_id_starts_at", "team_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    discipline: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # Set when the person is on the team through a posting from another institution (core/teams/postings.py):
    # the membership lies inside the posting's period and ends with it.
    posting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("posting.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class TeamBacking(TimestampMixin, Base):
    """A higher-level team (district or town) backing a lower-level one for a period."""

    __tablename__ = "team_backing"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("backing_team_id <> backed_team_id", name="not_self"),
        Index("ix_team_backing_backed_team_id_starts_at", "backed_team_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    backing_team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"), index=True)
    backed_team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PostingKind(StrEnum):
    """Why a person works for another institution: posted down by a district hospital (县聘乡用, seed 000),
    or staff of a social-run nursing station or clinic joining a primary institution's teams (seed 001)."""

    COUNTY_HIRED = "county_hired"
    SOCIAL_PARTNER = "social_partner"


class Posting(TimestampMixin, Base):
    """A staff member lent by their institution (home) to a primary institution (host) for a period.

    While it runs they may be put on the host's family doctor teams (``TeamMember.posting_id``);
    one posting per person at a time.
    """

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        CheckConstraint("kind in ('county_hired','social_partner')", name="kind"),
        CheckConstraint("home_institution_id <> host_institution_id", name="not_home"),
        Index("ix_posting_person_id_starts_at", "person_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    home_institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    host_institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    full_time: Mapped[bool] = mapped_column(default=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
