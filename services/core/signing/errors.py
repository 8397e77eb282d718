"""Signing-specific problems."""

from __future__ import annotations

from services.core.errors import Forbidden


class NotTeamMember(Forbidden):
    code, title = "not_team_member", "Only a member of the resident's signing team may do this"
