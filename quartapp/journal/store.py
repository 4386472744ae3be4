"""Entry queries and writes. Every read takes the viewer, so visibility is decided here once.

Every function takes the session first: the request's read session for reads, the write
transaction (``Database.transaction``) for writes. Each write records its live event in that
transaction, which announces it once it commits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from quartapp.live import events
from quartapp.models import PUBLIC, Entry, Event, User, utcnow

PAGE_SIZE = 20


@dataclass(frozen=True)
class EntryContent:
    """What a writer sets of an entry, with its Markdown rendered (``render.py``): before
    any write lock is taken, since rendering a long body takes a while."""

    title: str
    body: str
    visibility: str
    body_html: str


@dataclass(frozen=True)
class Byline:
    id: int
    username: str


@dataclass(frozen=True)
class ListedEntry:
    """An entry as a page lists it: what its card shows. Read as plain rows, since making
    ORM objects of twenty entries and their authors cost more than the rest of the query."""

    id: int
    author_id: int
    title: str
    body_html: str
    visibility: str
    created_at: datetime
    updated_at: datetime | None
    author: Byline

    @property
    def is_public(self) -> bool:
        return self.visibility == PUBLIC


@dataclass(frozen=True)
class Page:
    entries: list[ListedEntry]
    older: int | None  # the ``before`` value of the next page back, if there is one
    # The newest live event when the page was read, from the same statement: live updates
    # after it are replayed to the page, and every change up to it is in the page.
    live_seq: int


# Lists are read through the tables, not the mapped classes: the ORM's compiling and row
# handling for the same statement cost a page ~0.05-0.1 ms more CPU (about 4%).
_entries = Entry.__table__.c
_users = User.__table__.c
_events = Event.__table__.c


def _visible_to(signed_in: bool) -> list[ColumnElement[bool]]:
    """A visitor sees the public entries; a writer also sees their own."""
    public = _entries.visibility == PUBLIC
    return [public, _entries.author_id == bindparam("viewer_id")] if signed_in else [public]


# What a card shows, in the order of ListedEntry's fields.
_LISTED_COLUMNS = (
    _entries.id, _entries.author_id, _entries.title, _entries.body_html, _entries.visibility,
    _entries.created_at, _entries.updated_at,
)  # fmt: skip


@functools.cache
def _page_query(signed_in: bool, by_author: bool, older: bool, limit: int) -> Select[Any]:
    """A page of entries with their authors and the newest event seq, in one statement
    (each statement has a fixed cost through the async session), built once for each
    combination of filters (building it took longer than running it); values are bound
    when it runs.

    The newest ids come from one list per visibility condition, each read along its own
    index and stopping at ``limit``: "public OR mine" in one WHERE made SQLite merge two
    indexes and sort every visible entry before taking the first page.
    """
    lists = []
    for condition in _visible_to(signed_in):
        query = select(_entries.id).where(condition)
        if by_author:
            query = query.where(_entries.author_id == bindparam("author_id"))
        if older:
            query = query.where(_entries.id < bindparam("before"))
        newest = query.order_by(_entries.id.desc()).limit(limit).subquery()
        lists.append(select(newest.c.id))
    ids = lists[0] if len(lists) == 1 else union_all(*lists)
    newest_seq = select(func.max(_events.seq)).scalar_subquery()
    return (
        select(*_LISTED_COLUMNS, _users.username, newest_seq)
        .join(User.__table__, _users.id == _entries.author_id)
        .where(_entries.id.in_(ids))
        .order_by(_entries.id.desc())
        .limit(limit)
    )


async def visible_page(
    session: AsyncSession,
    viewer_id: int | None,
    *,
    before: int | None = None,
    author_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Page:
    """Newest first, keyset-paginated on the id: stable while new entries arrive."""
    values = {"viewer_id": viewer_id, "author_id": author_id, "before": before}
    query = _page_query(
        viewer_id is not None, author_id is not None, before is not None, page_size + 1
    )
    bound = {name: value for name, value in values.items() if value is not None}
    rows = (await session.execute(query, bound)).all()
    if not rows:
        return Page([], None, await events.newest_seq(session))
    entries = [_listed(row[:-1]) for row in rows]
    older = entries[page_size - 1].id if len(entries) > page_size else None
    live_seq = rows[0][-1] or 0
    return Page(entries[:page_size], older, live_seq)


async def newest_change(session: AsyncSession) -> int:
    """The seq of the newest live event: every write to what a page lists records one."""
    return await events.newest_seq(session)


def _listed(row: Sequence[Any]) -> ListedEntry:
    *fields, username = row
    entry_id, author_id, title, body_html, visibility, created_at, updated_at = fields
    return ListedEntry(
        entry_id, author_id, title, body_html, visibility, created_at, updated_at,
        Byline(author_id, username),
    )  # fmt: skip


async def listed_entries(session: AsyncSession, entry_ids: list[int]) -> list[ListedEntry]:
    """These entries as their cards show them (any visibility: the caller decides)."""
    query = (
        select(*_LISTED_COLUMNS, _users.username)
        .join(User.__table__, _users.id == _entries.author_id)
        .where(_entries.id.in_(entry_ids))
    )
    return [_listed(row) for row in (await session.execute(query)).all()]


_ENTRY_WITH_AUTHOR = (
    select(Entry).options(joinedload(Entry.author)).where(Entry.id == bindparam("entry_id"))
)


async def get_entry(session: AsyncSession, entry_id: int) -> Entry | None:
    result: Entry | None = await session.scalar(_ENTRY_WITH_AUTHOR, {"entry_id": entry_id})
    return result


async def entries_by_author(session: AsyncSession, author_id: int) -> list[Entry]:
    query = select(Entry).where(Entry.author_id == author_id).order_by(Entry.id)
    return list((await session.scalars(query)).all())


async def create_entry(session: AsyncSession, author_id: int, content: EntryContent) -> Entry:
    entry = Entry(
        author_id=author_id,
        title=content.title,
        body=content.body,
        body_html=content.body_html,
        visibility=content.visibility,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()  # assigns entry.id
    await events.record(
        session, events.CREATED, author_id, entry_id=entry.id, public_after=entry.is_public
    )
    return entry


async def _locked_entry(session: AsyncSession, entry_id: int) -> Entry | None:
    """The entry, its row locked on PostgreSQL (SQLite's writers take turns anyway)."""
    return await session.get(Entry, entry_id, with_for_update=True)


async def update_entry(session: AsyncSession, entry_id: int, content: EntryContent) -> Entry | None:
    """The entry as changed; None when it was deleted meanwhile."""
    entry = await _locked_entry(session, entry_id)
    if entry is None:
        return None
    public_before = entry.is_public
    entry.title = content.title
    entry.body = content.body
    entry.body_html = content.body_html
    entry.visibility = content.visibility
    entry.updated_at = utcnow()
    await events.record(
        session,
        events.UPDATED,
        entry.author_id,
        entry_id=entry.id,
        public_before=public_before,
        public_after=entry.is_public,
    )
    return entry


async def delete_entry(session: AsyncSession, entry_id: int) -> Entry | None:
    """The entry as it was; None when it was deleted meanwhile."""
    entry = await _locked_entry(session, entry_id)
    if entry is None:
        return None
    await session.delete(entry)
    await events.record(
        session, events.DELETED, entry.author_id, entry_id=entry.id, public_before=entry.is_public
    )
    return entry
