"""What later domains attach to team records: the one place a domain above teams changes how they behave.

Teams sit below the domains that name them (a responsibility names a team, a pairing names a member
or a steward), so teams never import those domains. A later domain registers here instead, from a
module its package ``__init__`` imports (assignments: ``core/assignments/team_hooks.py``), so every
process that has it loaded has its hooks. Three kinds:

- **read scopes** (``@widen_team_reads``): an extra SQL condition under which a team is readable
  (``teams:read`` / ``assignments:read``), OR-ed with the team's own scope in
  ``repository.readable_teams``; writes are never widened.
- **on-end cascades** (``@on_steward_end``, ``@on_member_end``): run inside ``periods.change_end``
  when a stewardship or a membership gets an end, to end what depends on it; each returns the ids of
  dependants that would only start after the new end, and any id refuses the change (409
  ``period_overlap``; the unit of work rolls the whole change back).
- **dissolve guards** (``@guard_dissolve``): awaited before a team is dissolved, after the lifecycle
  check (so 404, 428/412, 409 ``illegal_transition`` keep their order); a guard refuses by raising.

Registration is by name: registering a name again replaces the hook (a re-import cannot doubly
register), and ``registered()`` lists them (a test checks assignments' are there once the app exists).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams.models import InstitutionSteward, Team, TeamMember

TeamReadScope = Callable[[Principal, Permission], ColumnElement[bool]]
StewardEnded = Callable[[AsyncSession, InstitutionSteward, datetime], Awaitable[Sequence[uuid.UUID]]]
MemberEnded = Callable[[AsyncSession, TeamMember, datetime], Awaitable[Sequence[uuid.UUID]]]
DissolveGuard = Callable[[AsyncSession, Team], Awaitable[None]]

H = TypeVar("H")

_team_read_scopes: dict[str, TeamReadScope] = {}
_steward_ended: dict[str, StewardEnded] = {}
_member_ended: dict[str, MemberEnded] = {}
_dissolve_guards: dict[str, DissolveGuard] = {}


def _register(registry: dict[str, H], name: str) -> Callable[[H], H]:
    def register(hook: H) -> H:
        registry[name] = hook
        return hook

    return register


def widen_team_reads(name: str) -> Callable[[TeamReadScope], TeamReadScope]:
    """Register ``(principal, permission) -> SQL condition``: teams matching it are readable too."""
    return _register(_team_read_scopes, name)


def on_steward_end(name: str) -> Callable[[StewardEnded], StewardEnded]:
    """Register ``(db, steward, at) -> ids starting at or after at`` run when a stewardship gets an end."""
    return _register(_steward_ended, name)


def on_member_end(name: str) -> Callable[[MemberEnded], MemberEnded]:
    """Register ``(db, member, at) -> ids starting at or after at`` run when a membership gets an end."""
    return _register(_member_ended, name)


def guard_dissolve(name: str) -> Callable[[DissolveGuard], DissolveGuard]:
    """Register ``(db, team) -> None`` awaited before a team is dissolved; it refuses by raising."""
    return _register(_dissolve_guards, name)


def registered() -> dict[str, list[str]]:
    """Every registered hook's name, by kind."""
    return {
        "widen_team_reads": sorted(_team_read_scopes),
        "on_steward_end": sorted(_steward_ended),
        "on_member_end": sorted(_member_ended),
        "guard_dissolve": sorted(_dissolve_guards),
    }


# --- what teams call ------------------------------------------------------------------------


def team_read_scopes(principal: Principal, permission: Permission) -> list[ColumnElement[bool]]:
    """The registered read scopes' conditions for this principal."""
    return [scope(principal, permission) for scope in _team_read_scopes.values()]


async def steward_ended(db: AsyncSession, steward: InstitutionSteward, at: datetime) -> list[uuid.UUID]:
    """Run the steward cascades; the ids of dependants that would only start at or after ``at``."""
    later: list[uuid.UUID] = []
    for cascade in _steward_ended.values():
        later += await cascade(db, steward, at)
    return later


async def member_ended(db: AsyncSession, member: TeamMember, at: datetime) -> list[uuid.UUID]:
    """Run the member cascades; the ids of dependants that would only start at or after ``at``."""
    later: list[uuid.UUID] = []
    for cascade in _member_ended.values():
        later += await cascade(db, member, at)
    return later


async def check_dissolve(db: AsyncSession, team: Team) -> None:
    """Await every dissolve guard (the first to object raises)."""
    for guard in _dissolve_guards.values():
        await guard(db, team)
