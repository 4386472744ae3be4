"""A writer's archive by year and month, a month's (or a day's) entries, and "on this day"."""

from __future__ import annotations

from datetime import date

from quart import Blueprint, abort, render_template, request
from quart_auth import login_required

from quartapp.accounts import store as accounts
from quartapp.accounts.auth import current_account, require_account
from quartapp.journal import store
from quartapp.journal.store import ListedEntry
from quartapp.memories import calendar
from quartapp.memories import store as memories
from quartapp.models import User, utcnow
from quartapp.services import read_session

blueprint = Blueprint("memories", __name__, template_folder="templates")
MONTH_MAX = 500  # entries a month's page shows; past that, its days' pages


async def _author_and_days(username: str) -> tuple[User, list[tuple[int, date]], bool]:
    """The writer, each of their entries the viewer may read with its day in the writer's
    zone, and whether the viewer is the writer."""
    author = await accounts.get_user_by_username(read_session(), username)
    if author is None:
        abort(404)
    viewer = await current_account()
    is_author = viewer is not None and viewer.id == author.id
    zone = calendar.zone_of(author.time_zone)
    moments = await memories.written_moments(read_session(), author.id, with_private=is_author)
    return author, [(entry_id, calendar.local_day(m, zone)) for entry_id, m in moments], is_author


@blueprint.route("/u/<username>/archive")
async def archive(username: str) -> str:
    author, days, _ = await _author_and_days(username)
    years = calendar.by_month(day for _, day in days)
    return await render_template("memories/archive.html", author=author, years=years)


@blueprint.route("/u/<username>/archive/<int:year>/<int:month>")
async def month(username: str, year: int, month: int) -> str:
    if not (1900 <= year <= 9998 and 1 <= month <= 12):
        abort(404)
    author, days, _ = await _author_and_days(username)
    day: date | None = None
    if (raw_day := request.args.get("day")) is not None:
        try:
            day = date(year, month, int(raw_day))
        except ValueError:
            abort(400, "The 'day' parameter must be a day of that month.")
    wanted = [
        entry_id
        for entry_id, written in days
        if (written.year, written.month) == (year, month) and (day is None or written == day)
    ]
    entries = await _newest_first(wanted)
    return await render_template(
        "memories/month.html",
        author=author,
        entries=entries[:MONTH_MAX],
        more=len(entries) > MONTH_MAX,
        when=date(year, month, 1),
        day=day,
    )


@blueprint.route("/on-this-day")
@login_required
async def on_this_day() -> str:
    viewer = await require_account()
    entries = await entries_on_this_day(viewer)
    by_year: dict[int, list[ListedEntry]] = {}
    zone = calendar.zone_of(viewer.time_zone)
    for entry in entries:
        by_year.setdefault(calendar.local_day(entry.written_at, zone).year, []).append(entry)
    today = calendar.local_day(utcnow(), zone)
    return await render_template("memories/on_this_day.html", by_year=by_year, today=today)


async def entries_on_this_day(viewer: User) -> list[ListedEntry]:
    """The viewer's entries written on today's date (theirs) in earlier years, newest first."""
    return await _newest_first(await ids_on_this_day(viewer))


async def ids_on_this_day(viewer: User) -> list[int]:
    zone = calendar.zone_of(viewer.time_zone)
    today = calendar.local_day(utcnow(), zone)
    near = await memories.near_this_day(read_session(), viewer.id, today)
    return calendar.on_this_day(
        ((entry_id, calendar.local_day(moment, zone)) for entry_id, moment in near), today
    )


async def _newest_first(ids: list[int]) -> list[ListedEntry]:
    if not ids:
        return []
    entries = await store.listed_entries(read_session(), ids)
    return sorted(entries, key=lambda entry: (entry.written_at, entry.id), reverse=True)
