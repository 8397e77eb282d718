"""Duty-specific problems."""

from __future__ import annotations

from services.core.errors import Forbidden


class NotTeamMember(Forbidden):
    code, title = "not_team_member", "Only a current member of the team may record its work days"
