"""A writer's days: entries counted by month and by day in the writer's own time zone, the
year of writing drawn as an SVG heatmap, and "on this day". Pure functions."""

from __future__ import annotations

import calendar
import functools
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from markupsafe import Markup, escape

HEATMAP_WEEKS = 53
CELL = 12  # pixels a day takes in the heatmap, gap included
LEVELS = (1, 2, 4)  # entries in a day from which it is drawn darker


@functools.cache
def zone_of(name: str) -> tzinfo:
    """The named zone; UTC for an empty or unknown name."""
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first moment of ``day`` where the writer is, in UTC."""
    return datetime.combine(day, time.min, zone).astimezone(UTC)


def month_span(year: int, month: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """From the month's first moment to the next month's, in UTC."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return day_start(first, zone), day_start(following, zone)


def day_span(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    entries: int

    @property
    def name(self) -> str:
        return calendar.month_name[self.month]


@dataclass(frozen=True)
class Year:
    year: int
    entries: int
    months: tuple[Month, ...]  # the months with entries, January first


def by_month(days: Iterable[date]) -> list[Year]:
    """The years with entries, newest first, each with its months and counts."""
    months = Counter((day.year, day.month) for day in days)
    years = sorted({year for year, _ in months}, reverse=True)
    return [
        Year(
            year,
            sum(count for (y, _), count in months.items() if y == year),
            tuple(Month(year, m, months[(year, m)]) for m in range(1, 13) if (year, m) in months),
        )
        for year in years
    ]


def on_this_day(written: Iterable[tuple[int, date]], today: date) -> list[int]:
    """The ids of entries written on today's day of the year in earlier years (29 February
    counts on 28 February in other years)."""

    def same_day(day: date) -> bool:
        if (day.month, day.day) == (today.month, today.day):
            return True
        leap_day = (day.month, day.day) == (2, 29) and not calendar.isleap(today.year)
        return leap_day and (today.month, today.day) == (2, 28)

    return [entry_id for entry_id, day in written if day.year < today.year and same_day(day)]


def heatmap_svg(counts: Counter[date], today: date, link: Callable[[date], str]) -> Markup:
    """The last 53 weeks up to ``today``, a square a day, Monday at the top; a day with
    entries is darker the more it has and links to them. Each square has a <title>, so the
    figure reads aloud; colours are classes (site.css), no inline styles."""
    last_monday = today - timedelta(days=today.weekday())
    first = last_monday - timedelta(weeks=HEATMAP_WEEKS - 1)
    width, height = HEATMAP_WEEKS * CELL + 30, 7 * CELL + 16
    total = sum(count for day, count in counts.items() if first <= day <= today)
    parts = [
        f'<svg class="heatmap" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{total} entries in the last year, by day">'
    ]
    for label, row in (("Mon", 0), ("Wed", 2), ("Fri", 4)):
        parts.append(f'<text class="heatmap-label" x="0" y="{16 + row * CELL + 9}">{label}</text>')
    shown_month = None
    for week in range(HEATMAP_WEEKS):
        monday = first + timedelta(weeks=week)
        if monday.month != shown_month and monday.day <= 7:
            shown_month = monday.month
            parts.append(
                f'<text class="heatmap-label" x="{30 + week * CELL}" y="10">'
                f"{calendar.month_abbr[monday.month]}</text>"
            )
        for weekday in range(7):
            day = monday + timedelta(days=weekday)
            if day > today:
                break
            count = counts.get(day, 0)
            level = sum(count >= threshold for threshold in LEVELS)
            x, y = 30 + week * CELL, 16 + weekday * CELL
            said = f"{count} entr{'y' if count == 1 else 'ies'} on {day.isoformat()}"
            square = (
                f'<rect class="day level-{level}" x="{x}" y="{y}" width="{CELL - 2}" '
                f'height="{CELL - 2}" rx="2"><title>{said}</title></rect>'
            )
            if count:
                square = f'<a href="{escape(link(day))}">{square}</a>'
            parts.append(square)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers, dates and escaped links only
