"""An entry's tags, kept with it (``entry_tags``), and what they add up to."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.models import PUBLIC, Entry, EntryTag


async def set_tags(session: AsyncSession, entry_id: int, tags: Sequence[str], *, new: bool) -> None:
    """The entry's tags are now ``tags``: a tag taken out of its text is gone from it
    (``new``: the entry had none yet)."""
    if not new:
        await session.execute(delete(EntryTag).where(EntryTag.entry_id == entry_id))
    if tags:
        await session.execute(insert(EntryTag), [{"entry_id": entry_id, "tag": t} for t in tags])


async def tags_of_entries(session: AsyncSession, entry_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each entry's tags, in name order."""
    if not entry_ids:
        return {}
    rows = await session.execute(
        select(EntryTag.entry_id, EntryTag.tag)
        .where(EntryTag.entry_id.in_(entry_ids))
        .order_by(EntryTag.entry_id, EntryTag.tag)
    )
    found: dict[int, list[str]] = {}
    for entry_id, tag in rows:
        found.setdefault(entry_id, []).append(tag)
    return found


async def tag_counts(
    session: AsyncSession, author_id: int, *, with_private: bool
) -> list[tuple[str, int]]:
    """A writer's tags with how many of their entries have each (only public entries,
    unless ``with_private``), most used first."""
    count = func.count().label("entries")
    query = (
        select(EntryTag.tag, count)
        .join(Entry, Entry.id == EntryTag.entry_id)
        .where(Entry.author_id == author_id)
        .group_by(EntryTag.tag)
        .order_by(count.desc(), EntryTag.tag)
    )
    if not with_private:
        query = query.where(Entry.visibility == PUBLIC)
    return [(tag, entries) for tag, entries in await session.execute(query)]
