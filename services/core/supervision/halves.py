"""Half years (H1 = January–June, H2 = July–December, China time) and the canonical content hash."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.core import clock
from services.core.errors import field_error
from services.core.notifications.templates import CHINA_TIME

PATTERN = r"^20[0-9]{2}H[12]$"
_PERIOD = re.compile(PATTERN)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=CHINA_TIME).astimezone(UTC)


@dataclass(frozen=True)
class HalfYear:
    """``[starts_at, ends_at)`` of one half year, as UTC instants of China-time midnights."""

    year: int
    half: int

    @property
    def name(self) -> str:
        return f"{self.year}H{self.half}"

    @property
    def starts_at(self) -> datetime:
        return _start(date(self.year, 1 if self.half == 1 else 7, 1))

    @property
    def ends_at(self) -> datetime:
        return _start(date(self.year, 7, 1) if self.half == 1 else date(self.year + 1, 1, 1))

    @property
    def previous(self) -> HalfYear:
        return HalfYear(self.year, 1) if self.half == 2 else HalfYear(self.year - 1, 2)

    def quarters(self) -> list[tuple[datetime, datetime]]:
        """The two calendar quarters of the half year."""
        first = 1 if self.half == 1 else 7
        bounds = [date(self.year, first, 1), date(self.year, first + 3, 1)]
        return [(self.starts_at, _start(bounds[1])), (_start(bounds[1]), self.ends_at)]

    def as_of(self, now: datetime | None = None) -> datetime:
        """The instant the figures describe: the end of the half year, or now while it runs."""
        return min(self.ends_at, (now or clock.now()).astimezone(UTC))

    def closed(self, now: datetime | None = None) -> bool:
        return (now or clock.now()) >= self.ends_at

    def label_zh(self) -> str:
        return f"{self.year}年{'上' if self.half == 1 else '下'}半年"


def parse(value: str, *, field: str = "query.period") -> HalfYear:
    """``2026H1`` -> HalfYear; 422 naming ``field`` otherwise."""
    if not _PERIOD.match(value):
        raise field_error(field, "a half year such as 2026H1 (January–June) or 2026H2 (July–December)")
    return HalfYear(int(value[:4]), int(value[5]))


def containing(at: datetime) -> HalfYear:
    """The half year (China time) holding ``at``."""
    local = at.astimezone(CHINA_TIME)
    return HalfYear(local.year, 1 if local.month <= 6 else 2)


def last_closed(now: datetime | None = None) -> HalfYear:
    """The most recent half year that has ended."""
    return containing(now or clock.now()).previous


def china_day(at: datetime) -> date:
    """The China-time date of the last instant before ``at`` (the last day an end-exclusive period covers)."""
    return (at - timedelta(microseconds=1)).astimezone(CHINA_TIME).date()


def canonical(content: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (non-ASCII kept as is)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(content: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``content``."""
    return hashlib.sha256(canonical(content)).hexdigest()
