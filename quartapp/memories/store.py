"""What the archive and "on this day" read: when a writer's entries were written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.models import PUBLIC, Entry


async def written_moments(
    session: AsyncSession, author_id: int, *, with_private: bool
) -> list[tuple[int, datetime]]:
    """Each of the writer's entries (public ones only, unless ``with_private``): its id and
    when it was written. Read along the (author, written_at, id) index."""
    query = select(Entry.id, Entry.written_at).where(Entry.author_id == author_id)
    if not with_private:
        query = query.where(Entry.visibility == PUBLIC)
    return [(entry_id, written) for entry_id, written in await session.execute(query)]


async def near_this_day(
    session: AsyncSession, author_id: int, today: date
) -> list[tuple[int, datetime]]:
    """The writer's entries from earlier years written within a day of today's date in
    UTC: whatever the writer's zone, every one written on their today is among them (the
    caller keeps those)."""
    days = [today - timedelta(days=1), today, today + timedelta(days=1)]
    if session.get_bind().dialect.name == "postgresql":
        month_day = func.to_char(func.timezone("UTC", Entry.written_at), "MM-DD")
    else:
        month_day = func.strftime("%m-%d", Entry.written_at)
    this_year = datetime(today.year, 1, 1, tzinfo=UTC) + timedelta(days=1)
    query = select(Entry.id, Entry.written_at).where(
        Entry.author_id == author_id,
        Entry.written_at < this_year,
        month_day.in_([day.strftime("%m-%d") for day in days]),
    )
    return [(entry_id, written) for entry_id, written in await session.execute(query)]
