"""The declaration: which action moves a record from which states to which, and what it needs.

After polar's ``ALLOWED_STATUS_TRANSITIONS``: one table per record type, read by one setter
(``service.move``), so "may this happen?" has one answer and no route re-derives it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from services.core.security.roles import Permission

R = TypeVar("R")  # the record (a SQLAlchemy model)

# A rule beyond the permission: (actor, record, path of the record's org unit) -> allowed?
Rule = Callable[[Any, Any, str], bool]


@dataclass(frozen=True)
class Deadlines:
    """Deadlines a transition opens, meets or cancels, in the same transaction as the move.

    ``category`` picks a per-category policy when opening (e.g. a report's category); ``open_if``
    names the kinds opened only when their predicate holds of the record (e.g. a report-in clock
    only for an urgent risk happening now). Meeting or cancelling a clock never opened does nothing.
    """

    open: tuple[str, ...] = ()
    meet: tuple[str, ...] = ()
    cancel: tuple[str, ...] = ()
    category: Callable[[Any], str | None] | None = None
    open_if: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.open_if) - set(self.open)
        if unknown:
            raise ValueError(f"open_if names kinds this transition does not open: {sorted(unknown)}")


@dataclass(frozen=True)
class Transition:
    """``action`` moves a record in one of ``sources`` to ``target`` (None: it stays where it is,
    a new version without a history row). ``None`` among the sources is a record being created."""

    action: str
    sources: tuple[StrEnum | None, ...]
    target: StrEnum | None
    permission: Permission
    deadlines: Deadlines = field(default_factory=Deadlines)


@dataclass(frozen=True)
class Action:
    """What every transition of one action shares: its permission, an extra rule and the 403 it answers."""

    name: str
    permission: Permission
    rule: Rule | None = None
    forbidden: str = ""
    needs_version: bool = True


class Lifecycle(Generic[R]):
    """The transitions of one record type, checked when declared (one permission per action)."""

    def __init__(
        self,
        *,
        subject_type: str,
        noun: str,
        states: type[StrEnum],
        transitions: Iterable[Transition],
        actions: Iterable[Action] = (),
        state_of: Callable[[R], StrEnum] | None = None,
        state_attr: str | None = "status",
        authorize: Callable[[Any, Permission, R, str], bool] | None = None,
        snapshot: Callable[[R], dict[str, Any]] | None = None,
    ) -> None:
        self.subject_type = subject_type
        self.noun = noun
        self.states = states
        self.transitions = tuple(transitions)
        self.state_attr = state_attr
        self._state_of = state_of
        self.derived = state_of is not None  # the state is computed, not a column the kit sets
        self._authorize = authorize
        self.snapshot = snapshot
        self._moves: dict[tuple[str, StrEnum | None], Transition] = {}
        declared = {a.name: a for a in actions}
        self.actions: dict[str, Action] = {}
        for t in self.transitions:
            action = declared.get(t.action) or self.actions.get(t.action) or Action(t.action, t.permission)
            if action.permission is not t.permission:
                raise ValueError(f"{subject_type}: action {t.action} needs one permission, not several")
            self.actions[t.action] = action
            for source in t.sources:
                if source is not None and source not in states:
                    raise ValueError(f"{subject_type}: {source!r} is not a state")
                if (t.action, source) in self._moves:
                    raise ValueError(f"{subject_type}: {t.action} from {source} declared twice")
                self._moves[(t.action, source)] = t
        unknown = set(declared) - set(self.actions)
        if unknown:
            raise ValueError(f"{subject_type}: actions without transitions: {sorted(unknown)}")

    def state_of(self, record: R) -> StrEnum:
        """Where ``record`` stands (its ``status`` column unless the domain derives it)."""
        if self._state_of is not None:
            return self._state_of(record)
        assert self.state_attr is not None  # noqa: S101 - declared with a column or a function
        return self.states(getattr(record, self.state_attr))

    def transition(self, action: str, state: StrEnum | None) -> Transition | None:
        """The declared transition of ``action`` from ``state``; None when it is illegal."""
        return self._moves.get((action, state))

    def allowed_from(self, action: str) -> list[str]:
        """The states ``action`` may start from (as values), in declaration order."""
        return [s.value for t in self.transitions if t.action == action for s in t.sources if s is not None]

    def pairs(self) -> Mapping[tuple[str, StrEnum | None], Transition]:
        """Every legal (action, state): what a transition-table test walks."""
        return dict(self._moves)

    def authorized(self, actor: Any, permission: Permission, record: R, path: str) -> bool:
        """Whether ``actor`` holds ``permission`` on this record (default: at its org unit's path)."""
        if self._authorize is not None:
            return self._authorize(actor, permission, record, path)
        principal = getattr(actor, "principal", actor)
        return bool(principal.can_at(permission, path))

    def reference(self) -> list[dict[str, Any]]:
        """The table as data (documentation, tests)."""
        return [
            {
                "action": t.action,
                "from": [s.value if s is not None else None for s in t.sources],
                "to": t.target.value if t.target is not None else None,
                "permission": t.permission.value,
            }
            for t in self.transitions
        ]
