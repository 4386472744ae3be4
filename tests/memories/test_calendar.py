"""A writer's days (quartapp/memories/calendar.py): pure functions."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from quartapp.memories.calendar import (
    by_month,
    day_span,
    heatmap_svg,
    local_day,
    month_span,
    on_this_day,
    zone_of,
)


def test_days_are_the_writers() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert local_day(late, zone_of("")) == date(2026, 3, 1)
    assert local_day(late, zone_of("Asia/Tokyo")) == date(2026, 3, 2)
    assert local_day(late, zone_of("Not/AZone")) == date(2026, 3, 1)  # UTC, never an error
    berlin = ZoneInfo("Europe/Berlin")
    start, end = month_span(2026, 3, berlin)
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # summer time began that month
    assert month_span(2026, 12, UTC)[1] == datetime(2027, 1, 1, tzinfo=UTC)
    assert day_span(date(2026, 3, 29), berlin) == (
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # a 23-hour day
    )


def test_months_are_counted_newest_year_first() -> None:
    days = [date(2025, 1, 5), date(2025, 1, 9), date(2025, 12, 1), date(2026, 2, 2)]
    years = by_month(days)
    assert [(y.year, y.entries) for y in years] == [(2026, 1), (2025, 3)]
    assert [(m.month, m.entries, m.name) for m in years[1].months] == [
        (1, 2, "January"),
        (12, 1, "December"),
    ]


def test_on_this_day_is_earlier_years_only_and_leap_days_come_on_the_28th() -> None:
    written = [
        (1, date(2024, 12, 6)),
        (2, date(2026, 12, 6)),  # this year: not a memory
        (3, date(2025, 12, 5)),
        (4, date(2020, 12, 6)),
    ]
    assert on_this_day(written, date(2026, 12, 6)) == [1, 4]
    leap = [(5, date(2024, 2, 29)), (6, date(2025, 2, 28))]
    assert on_this_day(leap, date(2026, 2, 28)) == [5, 6]
    assert on_this_day(leap, date(2028, 2, 28)) == [6]  # 2028 has its own 29th


def test_the_heatmap_has_a_square_a_day_linked_when_written() -> None:
    today = date(2026, 12, 6)  # a Sunday
    counts = Counter({date(2026, 12, 1): 1, date(2026, 11, 30): 4, date(2025, 1, 1): 9})
    svg = str(heatmap_svg(counts, today, lambda day: f"/day/{day.isoformat()}?a=1&b=2"))
    squares = re.findall(r'<rect class="day level-(\d)"', svg)
    assert len(squares) == 53 * 7  # today is the last day of its week
    assert squares.count("0") == 53 * 7 - 2  # the day a year and more ago is not shown
    assert '<a href="/day/2026-11-30?a=1&amp;b=2">' in svg
    assert "<title>4 entries on 2026-11-30</title>" in svg
    assert "<title>1 entry on 2026-12-01</title>" in svg
    assert 'aria-label="5 entries in the last year, by day"' in svg
    assert re.search(r'class="day level-3"[^>]*><title>4 entries', svg)
