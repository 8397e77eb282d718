"""Request and response models for responsibility, community roles, pairings and the queries."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.core.assignments.models import CommunityRoleKind, PairingKind
from services.core.teams.models import Discipline, MemberRole, TeamStatus
from services.core.teams.schemas import MemberRead, PeriodCreate, PeriodRead, StewardRead


class ResponsibilityCreate(PeriodCreate):
    team_id: uuid.UUID
    org_unit_id: uuid.UUID = Field(
        description="A village (covers all its grids) or a grid (overrides its village's assignment)."
    )


class ResponsibilityRead(PeriodRead):
    team_id: uuid.UUID
    org_unit_id: uuid.UUID
    unit_kind: str


class CommunityRoleCreate(PeriodCreate):
    role: CommunityRoleKind = Field(
        description="community_steward of a village (one at a time); grid_leader (one) or sentinel (several) of a grid."
    )
    person_id: uuid.UUID = Field(description="A community worker.")
    org_unit_id: uuid.UUID


class CommunityRoleRead(PeriodRead):
    role: CommunityRoleKind
    person_id: uuid.UUID
    org_unit_id: uuid.UUID


class PairingCreate(PeriodCreate):
    kind: PairingKind = Field(
        description="stewards: institution steward <-> community steward; leaders: team leader <-> grid leader; "
        "member_sentinel: team member <-> sentinel."
    )
    medical_side_id: uuid.UUID = Field(
        description="The institution-steward record (stewards) or the team-member record (leaders, member_sentinel)."
    )
    community_role_id: uuid.UUID = Field(description="The community steward, grid leader or sentinel record.")


class PairingRead(PeriodRead):
    kind: PairingKind
    institution_steward_id: uuid.UUID | None
    team_member_id: uuid.UUID | None
    community_role_id: uuid.UUID
    org_unit_id: uuid.UUID


class UnitBrief(BaseModel):
    id: uuid.UUID
    code: str
    name: str


class PersonBrief(BaseModel):
    """A person in a role; ``record_id`` is the membership or community-role record."""

    record_id: uuid.UUID
    person_id: uuid.UUID
    name: str
    mobile_masked: str


class MemberBrief(PersonBrief):
    role: MemberRole
    discipline: Discipline


class SentinelBrief(PersonBrief):
    paired_member_ids: list[uuid.UUID] = Field(description="Team-member records paired with this sentinel then.")


class TeamBrief(BaseModel):
    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    status: TeamStatus
    service_phone: str | None


class ResponsibleRead(BaseModel):
    """Who was responsible for a grid at an instant."""

    grid: UnitBrief
    at: datetime
    assignment_id: uuid.UUID | None = Field(description="The responsibility record in force, if any.")
    assigned_via: str | None = Field(description="`grid` (a grid assignment) or `village` (the village's).")
    team: TeamBrief | None
    leader: MemberBrief | None
    members: list[MemberBrief]
    sentinels: list[SentinelBrief]
    community_steward: PersonBrief | None
    grid_leader: PersonBrief | None


class SentinelGap(BaseModel):
    community_role_id: uuid.UUID
    person_id: uuid.UUID
    name: str
    grid: UnitBrief


class CoverageGaps(BaseModel):
    """Gaps in a town's or the district's coverage at an instant."""

    org_unit_id: uuid.UUID
    at: datetime
    grids_without_sentinel: list[UnitBrief]
    grids_without_team: list[UnitBrief]
    sentinels_without_member: list[SentinelGap]
    villages_without_steward: list[UnitBrief]


class PairedSentinel(BaseModel):
    pairing_id: uuid.UUID
    community_role_id: uuid.UUID
    person_id: uuid.UUID
    name: str
    mobile_masked: str
    grid: UnitBrief


class MemberSentinels(BaseModel):
    """A team member's paired sentinels and their grids at an instant."""

    team_member_id: uuid.UUID
    at: datetime
    sentinels: list[PairedSentinel]


class PersonRoles(BaseModel):
    """Every role a person has held, past, present and future: the records, not a column."""

    person_id: uuid.UUID
    memberships: list[MemberRead]
    stewardships: list[StewardRead]
    community_roles: list[CommunityRoleRead]
