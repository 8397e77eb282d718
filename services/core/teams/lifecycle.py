"""The life of a family doctor team, declared once.

    active <--suspend / reactivate--> suspended
       |                                 |
       +-------------dissolve------------+--> dissolved (final)

Status changes arrive through ``PATCH /teams/{id}`` (``status``); the kit turns the requested
status into its action. Dissolving also asks the dissolve guards later domains register
(``hooks.guard_dissolve``: assignments refuses while the team is responsible for an area).
"""

from __future__ import annotations

from typing import Any

from services.core.lifecycle import Lifecycle, Transition
from services.core.security.roles import Permission
from services.core.teams.models import Team, TeamStatus

SUBJECT = "team"
WRITE = Permission.TEAMS_WRITE
T = TeamStatus

# The action that reaches each requested status.
ACTION_TO = {T.SUSPENDED: "suspend", T.ACTIVE: "reactivate", T.DISSOLVED: "dissolve"}


def _loaded_for_writing(_actor: Any, _permission: Permission, _team: Team, _path: str) -> bool:
    """Teams are loaded with ``teams:write``'s own scope (institution grants included): a team the
    caller may not change is not found (404), so one that was found may be changed."""
    return True


TEAM: Lifecycle[Team] = Lifecycle(
    subject_type=SUBJECT,
    noun="team",
    states=TeamStatus,
    transitions=[
        Transition("suspend", (T.ACTIVE,), T.SUSPENDED, WRITE),
        Transition("reactivate", (T.SUSPENDED,), T.ACTIVE, WRITE),
        Transition("dissolve", (T.ACTIVE, T.SUSPENDED), T.DISSOLVED, WRITE),
    ],
    authorize=_loaded_for_writing,
)
