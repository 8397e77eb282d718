"""The duties' calendar in China time: a month, week (Monday first) or quarter begins at China midnight.

Periods are ``[start, end)`` dates; ``day_start`` turns a date into the instant it begins (UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.core.notifications.templates import CHINA_TIME


def china_date(at: datetime) -> date:
    """The China-time date of an instant."""
    return at.astimezone(CHINA_TIME).date()


def day_start(day: date) -> datetime:
    """The instant (UTC) a China-time day begins."""
    return datetime.combine(day, time(), tzinfo=CHINA_TIME).astimezone(UTC)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def previous_month(today: date) -> tuple[date, date]:
    """The month before ``today``'s, as ``[start, end)``."""
    end = month_start(today)
    return add_months(end, -1), end


def previous_week(today: date) -> tuple[date, date]:
    """The week (Monday to Sunday) before ``today``'s, as ``[start, end)``."""
    end = week_start(today)
    return end - timedelta(days=7), end


def quarter(today: date) -> tuple[date, date]:
    """``today``'s quarter as ``[start, end)``."""
    start = quarter_start(today)
    return start, add_months(start, 3)


def instants(period: tuple[date, date]) -> tuple[datetime, datetime]:
    """A period of dates as the instants it spans."""
    return day_start(period[0]), day_start(period[1])
