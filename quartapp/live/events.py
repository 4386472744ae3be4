"""The events table: written with each change, read to fan out and to replay.

``record`` is the interface features publish through: a store calls it inside its write
transaction, and the transaction announces the event once it commits (``db.add_event``).

``seq`` must grow in commit order, or a reader that saw seq 6 could later miss seq 5
committing behind it. SQLite serializes writers (``BEGIN IMMEDIATE``); on PostgreSQL a
transaction-scoped advisory lock taken before the insert does the same for event writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import add_event
from quartapp.models import Event, EventReader, utcnow

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
SESSIONS = "sessions"  # a user's login sessions changed: recheck their connections
# An author's name changed: pages that show it were rendered before this seq. Nothing is
# sent (open pages keep the old name until reloaded); kept pages are rendered again.
RENAMED = "renamed"
_EVENT_LOCK = 0x71A27  # any fixed number; only event writers take it


@dataclass(frozen=True)
class Window:
    """What the table still holds: the oldest kept seq and the newest."""

    oldest: int | None
    newest: int


async def _serialize_writers(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_LOCK})


async def record(
    session: AsyncSession,
    kind: str,
    author_id: int,
    *,
    entry_id: int | None = None,
    public_before: bool = False,
    public_after: bool = False,
) -> None:
    """Add an event to the caller's open write transaction, announced after its commit."""
    await _serialize_writers(session)
    add_event(
        session,
        Event(
            kind=kind,
            entry_id=entry_id,
            author_id=author_id,
            public_before=public_before,
            public_after=public_after,
            created_at=utcnow(),
        ),
    )


async def after(session: AsyncSession, seq: int, limit: int) -> list[Event]:
    query = select(Event).where(Event.seq > seq).order_by(Event.seq).limit(limit)
    return list((await session.scalars(query)).all())


async def window(session: AsyncSession) -> Window:
    oldest, newest = (await session.execute(select(func.min(Event.seq), func.max(Event.seq)))).one()
    return Window(oldest, newest or 0)


async def newest_seq(session: AsyncSession) -> int:
    return (await session.scalar(select(func.max(Event.seq)))) or 0


async def prune(session: AsyncSession, older_than: datetime) -> int:
    """Delete events older than the cut-off, always keeping the newest one (it tells a
    returning client how far the table goes) and every one a reader of the table has not
    read yet (``EventReader``: the search indexer's queue is this table)."""
    newest = await newest_seq(session)
    unread_from = select(func.min(EventReader.seq)).scalar_subquery()
    result = await session.execute(
        delete(Event).where(
            Event.created_at < older_than,
            Event.seq < newest,
            Event.seq <= func.coalesce(unread_from, newest),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def retention_cutoff(days: int) -> datetime:
    return utcnow() - timedelta(days=days)
