"""The outbox table: what the sender reads, claims, and marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.models import OutboxMessage

ERROR_LENGTH = 500  # the column's


def add(session: AsyncSession, message: OutboxMessage) -> None:
    """Write a message in the caller's transaction."""
    session.add(message)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
    )


async def due(session: AsyncSession, now: datetime, limit: int) -> Sequence[int]:
    """The ids of messages due to be sent and not claimed by a sender, oldest first."""
    query = (
        select(OutboxMessage.id)
        .where(_claimable(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def claim(
    session: AsyncSession, message_id: int, now: datetime, lease: timedelta
) -> OutboxMessage | None:
    """Take a message for one attempt, until ``now + lease``; None if another sender took it
    first (the update is conditional, so only one of them changes the row)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _claimable(now))
        .values(locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(OutboxMessage, message_id, populate_existing=True)


async def delivered(session: AsyncSession, message_id: int) -> None:
    """Sent: the message (and any link in it) is not kept."""
    await session.execute(delete(OutboxMessage).where(OutboxMessage.id == message_id))


async def retry_later(session: AsyncSession, message_id: int, error: str, at: datetime) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(next_attempt_at=at, locked_until=None, last_error=error[:ERROR_LENGTH])
    )


async def given_up(session: AsyncSession, message_id: int, error: str, now: datetime) -> None:
    """Kept for the operator, never tried again by itself."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(failed_at=now, locked_until=None, last_error=error[:ERROR_LENGTH])
    )
