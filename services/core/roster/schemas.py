"""Roster import answers and the public team directory."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class RosterCounts(BaseModel):
    created: int
    unchanged: int


class RosterImportSummary(BaseModel):
    """What an import did (or, with ``dry_run``, would do); a re-import of an unchanged file creates nothing."""

    org_unit_id: uuid.UUID
    at: datetime = Field(description="The instant the created periods start.")
    dry_run: bool
    created: int
    unchanged: int
    by_kind: dict[str, RosterCounts] = Field(
        description="villages, grids, institutions, stewards, people, teams, members, responsibilities, "
        "community_roles, pairings."
    )
    not_in_file: dict[str, int] = Field(
        description="Records in force in the area that the file does not list; the import leaves them as they are."
    )


class DirectoryGrid(BaseModel):
    code: str
    name: str


class DirectoryTeam(BaseModel):
    """A family doctor team as published to residents: nothing personal beyond the leader's name."""

    team_name: str
    institution_name: str
    leader_name: str | None
    service_phone: str | None
    whole_village: bool = Field(description="Responsible for the whole village/community (else for some grids).")
    grids: list[DirectoryGrid] = Field(description="The grids this team serves in the village.")


class DirectoryVillage(BaseModel):
    """The teams serving a village/community now."""

    code: str
    name: str
    teams: list[DirectoryTeam]
