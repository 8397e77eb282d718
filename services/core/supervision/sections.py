"""Bulletin sections as providers: a registry of ``name -> async fn(db, unit, window) -> figures``.

A section whose capability is not built yet (social-work cases and volunteer hours; team work days
from the standing duties) is registered by name without a function and renders an explicit
"not yet built / 暂未上线" marker, never an empty table. Wiring one in is one line where the
capability lives, e.g. ``sections.register("social_work", socialwork.metrics.bulletin_section)``.

Every provider answers figures for the town (``town``), each of its villages and grids
(``villages`` / ``grids``, keyed by unit id as a string) and the rows it read (``source_counts``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.supervision.halves import HalfYear

Figures = dict[str, Any]


@dataclass(frozen=True)
class Unit:
    """The town (or district) a snapshot is about."""

    id: uuid.UUID
    district_id: uuid.UUID
    path: str
    code: str
    name: str


@dataclass(frozen=True)
class Window:
    """The half year and the instant its figures describe (its end, or now for the running one)."""

    half: HalfYear
    as_of: datetime

    @property
    def starts_at(self) -> datetime:
        return self.half.starts_at

    @property
    def ends_at(self) -> datetime:
        return self.half.ends_at


SectionFn = Callable[[AsyncSession, Unit, Window], Awaitable[Figures]]
# A team indicator from another domain: (db, district unit, window, team ids) -> {team id: (actual, target)}.
TeamIndicatorFn = Callable[[AsyncSession, Unit, Window, list[uuid.UUID]], Awaitable[dict[uuid.UUID, float | None]]]


@dataclass
class Section:
    name: str
    title_zh: str
    title_en: str
    fn: SectionFn | None = None


@dataclass
class TeamIndicator:
    name: str
    title_zh: str
    title_en: str
    fn: TeamIndicatorFn | None = None


@dataclass
class Registry:
    sections: dict[str, Section] = field(default_factory=dict)
    team_indicators: dict[str, TeamIndicator] = field(default_factory=dict)


REGISTRY = Registry()

NOT_BUILT = {"status": "not_built", "note_zh": "暂未上线", "note_en": "not yet built"}


def declare(name: str, title_zh: str, title_en: str, fn: SectionFn | None = None) -> None:
    """Declare a section (its place and titles); ``fn`` None until its capability lands."""
    REGISTRY.sections[name] = Section(name, title_zh, title_en, fn)


def register(name: str, fn: SectionFn) -> None:
    """Give a declared section its provider (the one line a new capability adds)."""
    REGISTRY.sections[name].fn = fn


def declare_team_indicator(name: str, title_zh: str, title_en: str, fn: TeamIndicatorFn | None = None) -> None:
    """Declare an assessment indicator computed by another domain; ``fn`` None until it lands."""
    REGISTRY.team_indicators[name] = TeamIndicator(name, title_zh, title_en, fn)


def register_team_indicator(name: str, fn: TeamIndicatorFn) -> None:
    """Give a declared team indicator its provider (e.g. ``team_work_days`` from ``core.duties``)."""
    REGISTRY.team_indicators[name].fn = fn


async def compute(db: AsyncSession, unit: Unit, window: Window) -> tuple[dict[str, Figures], dict[str, int]]:
    """Every declared section, in declaration order; the absent ones as the not-built marker."""
    out: dict[str, Figures] = {}
    counts: dict[str, int] = {}
    for name, section in REGISTRY.sections.items():
        if section.fn is None:
            out[name] = dict(NOT_BUILT)
            continue
        figures = await section.fn(db, unit, window)
        for table, n in figures.pop("source_counts", {}).items():
            counts[table] = counts.get(table, 0) + int(n)
        out[name] = {"status": "ok", **figures}
    return out, counts
