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

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from quartapp.journal import history
from quartapp.live import events
from quartapp.models import PUBLIC, Entry, EntryTag, Event, Follow, User, utcnow
from quartapp.uploads import store as uploads

PAGE_SIZE = 20


@dataclass(frozen=True)
class EntryContent:
    """What a writer sets of an entry, with its Markdown rendered (``render.py``): before
    any write lock is taken, since rendering a long body takes a while."""

    title: str
    body: str
    visibility: str
    body_html: str
    # When the writer says it was written; None: now (a new entry), unchanged (an edit).
    written_at: datetime | None = None


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
    written_at: datetime
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
    # The ``after`` value of the next page forward, if there is one.
    newer: int | None = None
    first: bool = True  # the newest entries: new ones join this page live


# Lists are read through the tables, not the mapped classes: the ORM's compiling and row
# handling for the same statement cost a page ~0.05-0.1 ms more CPU (about 4%).
_entries = Entry.__table__.c
_users = User.__table__.c
_events = Event.__table__.c
_boundary = Entry.__table__.alias("boundary")
_tags = EntryTag.__table__.c
_follows = Follow.__table__.c


def _visible_to(signed_in: bool) -> list[ColumnElement[bool]]:
    """A visitor sees the public entries; a writer also sees their own."""
    public = _entries.visibility == PUBLIC
    return [public, _entries.author_id == bindparam("viewer_id")] if signed_in else [public]


# What a card shows, in the order of ListedEntry's fields.
_LISTED_COLUMNS = (
    _entries.id, _entries.author_id, _entries.title, _entries.body_html, _entries.visibility,
    _entries.written_at, _entries.updated_at,
)  # fmt: skip


OLDER = "older"  # a page of the entries written before an entry
NEWER = "newer"  # a page of the entries written after an entry


@dataclass(frozen=True)
class Cursor:
    """Where a list's page is: the entries written before the entry ``before`` (an older
    page), after the entry ``after`` (a newer one), or neither (the newest)."""

    before: int | None = None
    after: int | None = None

    def __post_init__(self) -> None:
        if self.before is not None and self.after is not None:
            raise ValueError("a page is either before an entry or after one")

    @property
    def entry_id(self) -> int | None:
        return self.before if self.before is not None else self.after

    @property
    def direction(self) -> str | None:
        if self.before is not None:
            return OLDER
        return NEWER if self.after is not None else None


NEWEST = Cursor()


@functools.cache
def _page_query(
    signed_in: bool,
    by_author: bool,
    direction: str | None,
    limit: int,
    tagged: bool = False,
    followed: bool = False,
) -> Select[Any]:
    """A page of entries with their authors and the newest event seq, in one statement
    (each statement has a fixed cost through the async session), built once for each
    combination of filters (building it took longer than running it); values are bound
    when it runs.

    The newest ids come from one list per visibility condition, each read along its own
    index and stopping at ``limit``: "public OR mine" in one WHERE made SQLite merge two
    indexes and sort every visible entry before taking the first page.
    """
    lists = []
    # A newer page is read from its boundary upwards: the nearest entries first.
    upwards = direction == NEWER
    nearest_first = (
        (_entries.written_at.asc(), _entries.id.asc())
        if upwards
        else (_entries.written_at.desc(), _entries.id.desc())
    )
    # With ``followed``, only public entries of the writers the viewer follows.
    for condition in _visible_to(signed_in and not followed):
        query = select(_entries.id, _entries.written_at).where(condition)
        if by_author:
            query = query.where(_entries.author_id == bindparam("author_id"))
        if followed:
            writers = select(_follows.followed_id).where(
                _follows.follower_id == bindparam("viewer_id")
            )
            query = query.where(_entries.author_id.in_(writers))
        if tagged:
            with_tag = select(_tags.entry_id).where(_tags.tag == bindparam("tag"))
            query = query.where(_entries.id.in_(with_tag))
        if direction is not None:
            query = query.where(_beyond(upwards))
        nearest = query.order_by(*nearest_first).limit(limit).subquery()
        lists.append(select(nearest.c.id, nearest.c.written_at))
    # UNION, not UNION ALL: a writer's own public entries are on both lists.
    listed = (lists[0] if len(lists) == 1 else union(*lists)).subquery()
    # The page's ids: the nearest of at most two pages of them (the lists come in order
    # along their indexes), a sort of ~40 (date, id) pairs. The rows themselves are put in
    # order by visible_page: sorting them here copied every body into SQLite's sorter,
    # which made the statement four times slower (0.18 against 0.045 ms).
    order = (
        (listed.c.written_at.asc(), listed.c.id.asc())
        if upwards
        else (listed.c.written_at.desc(), listed.c.id.desc())
    )
    page_ids = select(listed.c.id).order_by(*order).limit(limit)
    newest_seq = select(func.max(_events.seq)).scalar_subquery()
    return (
        select(*_LISTED_COLUMNS, _users.username, newest_seq)
        .join(User.__table__, _users.id == _entries.author_id)
        .where(_entries.id.in_(page_ids))
    )


def _beyond(upwards: bool) -> ColumnElement[bool]:
    """Past the page's boundary entry (``cursor``) in the page's order: written earlier
    (or, ``upwards``, later), or at the same moment with a smaller (larger) id. A row-value
    comparison, read along the index. Should that entry be gone, the one posted just
    before (after) it stands in."""
    cursor: BindParameter[int] = bindparam("cursor")
    neighbour = _boundary.c.id > cursor if upwards else _boundary.c.id < cursor
    boundary = func.coalesce(
        select(_boundary.c.written_at).where(_boundary.c.id == cursor).scalar_subquery(),
        select(_boundary.c.written_at)
        .where(neighbour)
        .order_by(_boundary.c.id.asc() if upwards else _boundary.c.id.desc())
        .limit(1)
        .scalar_subquery(),
    )
    here = tuple_(_entries.written_at, _entries.id)
    there = tuple_(boundary, cursor)
    return here > there if upwards else here < there


async def visible_page(
    session: AsyncSession,
    viewer_id: int | None,
    *,
    at: Cursor = NEWEST,
    author_id: int | None = None,
    tag: str | None = None,
    followed: bool = False,
    page_size: int = PAGE_SIZE,
) -> Page:
    """Newest written first, keyset-paginated on (written_at, id): stable while new
    entries arrive. ``at`` a newer page (``after`` an entry), the first page when fewer
    than a page are left. ``followed``: the public entries of the writers ``viewer_id``
    follows."""
    direction = at.direction
    values: dict[str, int | str | None] = {
        "viewer_id": viewer_id,
        "author_id": author_id,
        "cursor": at.entry_id,
        "tag": tag,
    }
    query = _page_query(
        viewer_id is not None,
        author_id is not None,
        direction,
        page_size + 1,
        tagged=tag is not None,
        followed=followed,
    )
    bound = {name: value for name, value in values.items() if value is not None}
    rows = (await session.execute(query, bound)).all()
    if direction == NEWER and len(rows) <= page_size:
        # Back at the top: the first page, which new entries join live.
        return await visible_page(
            session,
            viewer_id,
            author_id=author_id,
            tag=tag,
            followed=followed,
            page_size=page_size,
        )
    if not rows:
        return Page([], None, await events.newest_seq(session), first=direction is None)
    entries = sorted((_listed(row[:-1]) for row in rows), key=_page_order, reverse=True)
    live_seq = rows[0][-1] or 0
    if direction == NEWER:
        # One more than a page, the nearest to the boundary: the newest of them is past
        # this page, so there is a newer page, and the boundary is on the older one.
        page = entries[1:]
        return Page(page, page[-1].id, live_seq, newer=page[0].id, first=False)
    older = entries[page_size - 1].id if len(entries) > page_size else None
    page = entries[:page_size]
    if direction is None:
        return Page(page, older, live_seq)
    return Page(page, older, live_seq, newer=page[0].id, first=False)


async def newest_change(session: AsyncSession) -> int:
    """The seq of the newest live event: every write to what a page lists records one."""
    return await events.newest_seq(session)


def _page_order(entry: ListedEntry) -> tuple[datetime, int]:
    """A page's order, newest first (reversed), as its SQL reads the ids: by when the
    entry was written, then by id."""
    return (entry.written_at, entry.id)


def _listed(row: Sequence[Any]) -> ListedEntry:
    *fields, username = row
    entry_id, author_id, title, body_html, visibility, written_at, updated_at = fields
    return ListedEntry(
        entry_id, author_id, title, body_html, visibility, written_at, updated_at,
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


_ENTRY_WITH_AUTHOR_AND_SEQ = (
    select(Entry, select(func.max(_events.seq)).scalar_subquery())
    .options(joinedload(Entry.author))
    .where(Entry.id == bindparam("entry_id"))
)


async def get_entry_and_newest_change(
    session: AsyncSession, entry_id: int
) -> tuple[Entry | None, int]:
    """The entry, and the newest live event, in one statement: the entry's page follows
    its changes live from there."""
    row = (await session.execute(_ENTRY_WITH_AUTHOR_AND_SEQ, {"entry_id": entry_id})).first()
    if row is None:
        return None, 0
    return row[0], row[1] or 0


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
        created_at=(now := utcnow()),
        written_at=content.written_at or now,
    )
    session.add(entry)
    await session.flush()  # assigns entry.id
    await uploads.link_entry(session, entry.id, author_id, entry.body_html)
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
    if (entry.title, entry.body, entry.visibility) != (
        content.title,
        content.body,
        content.visibility,
    ):
        await history.keep(session, entry)
    public_before = entry.is_public
    entry.title = content.title
    entry.body = content.body
    entry.body_html = content.body_html
    entry.visibility = content.visibility
    if content.written_at is not None:
        entry.written_at = content.written_at
    entry.updated_at = utcnow()
    await uploads.link_entry(session, entry.id, entry.author_id, entry.body_html)
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
