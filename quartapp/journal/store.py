"""Entry queries and writes. Every read takes the viewer, so visibility is decided here once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from quartapp.db import Database
from quartapp.journal.render import render_markdown
from quartapp.live import events
from quartapp.models import PUBLIC, Entry, utcnow

PAGE_SIZE = 20


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    older: int | None  # the ``before`` value of the next page back, if there is one


def _visible_to(viewer_id: int | None) -> Select[Entry]:
    query = select(Entry).options(joinedload(Entry.author))
    if viewer_id is None:
        return query.where(Entry.visibility == PUBLIC)
    return query.where(or_(Entry.visibility == PUBLIC, Entry.author_id == viewer_id))


async def visible_page(
    session: AsyncSession,
    viewer_id: int | None,
    *,
    before: int | None = None,
    author_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Page:
    """Newest first, keyset-paginated on the id: stable while new entries arrive."""
    query = _visible_to(viewer_id)
    if author_id is not None:
        query = query.where(Entry.author_id == author_id)
    if before is not None:
        query = query.where(Entry.id < before)
    rows = list((await session.scalars(query.order_by(Entry.id.desc()).limit(page_size + 1))).all())
    older = rows[page_size - 1].id if len(rows) > page_size else None
    return Page(rows[:page_size], older)


async def get_entry(session: AsyncSession, entry_id: int) -> Entry | None:
    result: Entry | None = await session.scalar(
        select(Entry).options(joinedload(Entry.author)).where(Entry.id == entry_id)
    )
    return result


async def entries_by_author(session: AsyncSession, author_id: int) -> list[Entry]:
    query = select(Entry).where(Entry.author_id == author_id).order_by(Entry.id)
    return list((await session.scalars(query)).all())


async def create_entry(db: Database, author_id: int, title: str, body: str, visibility: str) -> int:
    """Insert an entry and its live event, in one transaction."""
    entry = Entry(
        author_id=author_id,
        title=title,
        body=body,
        body_html=render_markdown(body),
        visibility=visibility,
        created_at=utcnow(),
    )
    async with db.transaction() as session:
        session.add(entry)
        await session.flush()  # assigns entry.id
        await events.record(
            session, events.CREATED, author_id, entry_id=entry.id, public_after=entry.is_public
        )
    return entry.id


async def _lock_visibility(session: AsyncSession, entry_id: int) -> tuple[int, bool] | None:
    """The author and whether the entry is public now, with the row locked (PostgreSQL)."""
    row = (
        await session.execute(
            select(Entry.author_id, Entry.visibility).where(Entry.id == entry_id).with_for_update()
        )
    ).first()
    return None if row is None else (row.author_id, row.visibility == PUBLIC)


async def update_entry(db: Database, entry_id: int, title: str, body: str, visibility: str) -> None:
    body_html = render_markdown(body)  # before the write lock is taken
    async with db.transaction() as session:
        before = await _lock_visibility(session, entry_id)
        if before is None:
            return  # deleted meanwhile: nothing to update
        await session.execute(
            update(Entry)
            .where(Entry.id == entry_id)
            .values(
                title=title,
                body=body,
                body_html=body_html,
                visibility=visibility,
                updated_at=utcnow(),
            )
        )
        author_id, public_before = before
        await events.record(
            session,
            events.UPDATED,
            author_id,
            entry_id=entry_id,
            public_before=public_before,
            public_after=visibility == PUBLIC,
        )


async def delete_entry(db: Database, entry_id: int) -> None:
    async with db.transaction() as session:
        before = await _lock_visibility(session, entry_id)
        if before is None:
            return
        await session.execute(delete(Entry).where(Entry.id == entry_id))
        author_id, public_before = before
        await events.record(
            session, events.DELETED, author_id, entry_id=entry_id, public_before=public_before
        )


async def get_entries(session: AsyncSession, entry_ids: list[int]) -> list[Entry]:
    query = select(Entry).options(joinedload(Entry.author)).where(Entry.id.in_(entry_ids))
    return list((await session.scalars(query)).all())
