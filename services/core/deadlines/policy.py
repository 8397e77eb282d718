"""Deadline policies: when a clock is due and which steps it takes, as data.

Defaults follow the district plan; ``GRIDCARE_DEADLINE_POLICIES`` overrides them per
kind (``"report.follow_up"``) or per kind and category (``"report.follow_up:urgent_risk"``).
The policy in force is copied onto the deadline when it opens, so a configuration
change never rewrites the rules of a clock already running.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.config import Settings


class Step(BaseModel):
    """One rung: at ``anchor`` + ``offset_hours``, tell ``audience`` (resolved by the kind's handler)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_.]+$")
    offset_hours: float = Field(ge=-24 * 365, le=24 * 365)
    anchor: Literal["start", "due"] = "due"
    audience: tuple[str, ...] = Field(min_length=1)

    def at(self, *, started_at: datetime, due_at: datetime) -> datetime:
        """When this step is due for a clock started at ``started_at`` and due at ``due_at``."""
        base = started_at if self.anchor == "start" else due_at
        return max(started_at, base + timedelta(hours=self.offset_hours))


DEFAULT_STEPS: tuple[Step, ...] = (
    Step(name="reminder", offset_hours=-12, audience=("responsible",)),
    Step(name="breach", offset_hours=0, audience=("team_leader",)),
    Step(name="escalation_1", offset_hours=24, audience=("institution_steward", "community_steward")),
    Step(name="escalation_2", offset_hours=48, audience=("district_commission",)),
)


class Policy(BaseModel):
    """Due ``due_after_hours`` after start; the steps in time order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    due_after_hours: float = Field(default=48, gt=0, le=24 * 365)
    steps: tuple[Step, ...] = DEFAULT_STEPS

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        names = [s.name for s in self.steps]
        if len(names) != len(set(names)):
            raise ValueError("step names must be unique within a policy")
        return self

    def schedule(self, *, started_at: datetime, due_at: datetime) -> list[tuple[Step, datetime]]:
        """Every step with its time, earliest first (ties keep the configured order)."""
        timed = [(s, s.at(started_at=started_at, due_at=due_at)) for s in self.steps]
        return sorted(timed, key=lambda pair: pair[1])


# Built-in per-kind (and per-category) defaults, declared by each kind where it is registered
# (``@deadline_kind(..., default_policy=..., category_policies=...)``): the engine knows no domain.
_DEFAULTS: dict[str, Policy] = {}


def register_defaults(kind: str, default: Policy | None, per_category: Mapping[str, Policy]) -> None:
    """Record a kind's built-in policies (``kind`` and ``kind:category`` keys)."""
    if default is not None:
        _DEFAULTS[kind] = default
    for category, policy in per_category.items():
        _DEFAULTS[f"{kind}:{category}"] = policy


def policy_for(settings: Settings, kind: str, category: str | None = None) -> Policy:
    """The policy for ``kind`` (and ``category``): the most specific key wins (``kind:category``
    before ``kind``); for one key, configuration before the kind's registered defaults."""
    overrides = settings.deadline_policies
    for key in ([f"{kind}:{category}"] if category else []) + [kind]:
        if key in overrides:
            return Policy.model_validate(overrides[key])
        if key in _DEFAULTS:
            return _DEFAULTS[key]
    return Policy()


def snapshot(policy: Policy) -> dict[str, Any]:
    """The JSON stored on the deadline."""
    return policy.model_dump(mode="json")
