"""The China-time calendar behind signings and the quarterly-contact duty."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.core import clock
from services.core.signing.service import add_years, day_start, quarter_of, today


def test_quarters_are_calendar_quarters_in_china_time() -> None:
    # 1 April 00:00 in China is 31 March 16:00 UTC.
    assert quarter_of(datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == (
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 16, 0, tzinfo=UTC),
    )
    assert quarter_of(datetime(2026, 3, 31, 16, 0, tzinfo=UTC))[0] == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    # The fourth quarter ends where the next year begins in China.
    assert quarter_of(datetime(2026, 12, 31, 15, 0, tzinfo=UTC))[1] == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert quarter_of(datetime(2026, 12, 31, 16, 0, tzinfo=UTC))[0] == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_today_is_the_china_date() -> None:
    clock.freeze(datetime(2026, 5, 14, 16, 30, tzinfo=UTC))  # 00:30 on 15 May in China
    assert today() == date(2026, 5, 15)
    assert day_start(date(2026, 5, 15)) == datetime(2026, 5, 14, 16, 0, tzinfo=UTC)


def test_a_year_from_29_february_ends_on_1_march() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 3, 1)
    assert add_years(date(2026, 5, 15), 1) == date(2027, 5, 15)
