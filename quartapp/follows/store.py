"""Who follows whom (``follows``), and what a profile tells of it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import upsert
from quartapp.models import Follow, User, utcnow


@dataclass(frozen=True)
class FollowCounts:
    followers: int
    following: int
    # Whether the viewer follows this writer; None for a visitor and for the writer.
    viewer_follows: bool | None


async def follow(session: AsyncSession, follower_id: int, followed_id: int) -> None:
    """Follow; following twice (two tabs, a double click) is the same as once."""
    statement = upsert(session, Follow).values(
        follower_id=follower_id, followed_id=followed_id, created_at=utcnow()
    )
    await session.execute(statement.on_conflict_do_nothing())


async def unfollow(session: AsyncSession, follower_id: int, followed_id: int) -> None:
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
    )


async def counts(session: AsyncSession, user_id: int, viewer_id: int | None) -> FollowCounts:
    """How many follow the writer and how many they follow, in one statement."""
    followers = select(func.count()).where(Follow.followed_id == user_id).scalar_subquery()
    following = select(func.count()).where(Follow.follower_id == user_id).scalar_subquery()
    asks = viewer_id is not None and viewer_id != user_id  # whether the viewer follows
    follows = exists().where(Follow.follower_id == viewer_id, Follow.followed_id == user_id)
    row = (await session.execute(select(followers, following, follows))).one()
    return FollowCounts(row[0], row[1], bool(row[2]) if asks else None)


async def followed_names(session: AsyncSession, follower_id: int) -> list[str]:
    """The usernames of the writers ``follower_id`` follows, in name order."""
    rows = await session.scalars(
        select(User.username)
        .join(Follow, Follow.followed_id == User.id)
        .where(Follow.follower_id == follower_id)
        .order_by(User.username_key)
    )
    return list(rows.all())
