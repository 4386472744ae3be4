"""The search index, kept up to date after each write (``indexer.py``), and the
searches run on it.

SQLite: an FTS5 table ``entry_search`` (its rowid is the entry's id) with the folded words
of the title, tags and text, each column followed by its pairs of neighbouring words
(``text.pairs``); a trigger removes an entry's row when the entry goes, however it goes
(deleted, or with its account). PostgreSQL: a table ``entry_search`` with a ``tsvector``
of the same words (title and tags weighted above the text) and one of their pairs, each
under a GIN index, removed with its entry by its foreign key. The pairs have a column of
their own, and the table keeps rows up to 8 KB in its own pages: read from TOAST, each
document a search filtered cost ~5 µs, and made reading newest first 4x slower. Its
statistics keep ten times PostgreSQL's default of words: with 1,000, the planner took a
prefix in thousands of entries for one in 500 and read them all (50 ms). The
language of PostgreSQL's text search is a setting (``SEARCH_LANGUAGE``, ``simple`` by
default: no stemming, so any language works). Both are created, and filled for the
entries already written, by migration 0016.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import SEARCH_LANGUAGE
from quartapp.models import PUBLIC, Entry, EntryTag
from quartapp.search.text import Query, fts5_match, pairs, tsquery, words

# SQLite: how much a word found in the title, the tags and the text counts, for bm25.
_FTS_WEIGHTS = (4.0, 3.0, 1.0)


@dataclass(frozen=True)
class Indexed:
    """What the index holds of an entry: the folded words of its title, tags and text."""

    title: tuple[str, ...]
    tags: tuple[str, ...]
    body: tuple[str, ...]

    def sqlite_row(self, entry_id: int) -> dict[str, object]:
        """Its FTS5 row: each column's words, then their pairs."""
        return {"id": entry_id, **{
            name: " ".join(found + tuple(pairs(found)))
            for name, found in (("title", self.title), ("tags", self.tags), ("body", self.body))
        }}  # fmt: skip

    def postgresql_row(self, entry_id: int, language: str) -> dict[str, object]:
        """The values of ``PG_UPSERT``: each column's words for ``to_tsvector``, and their
        pairs as a ``tsvector`` literal (no positions: only ever looked up)."""
        found = dict.fromkeys(pairs(self.title) + pairs(self.tags) + pairs(self.body))
        return {
            "id": entry_id,
            "title": " ".join(self.title),
            "tags": " ".join(self.tags),
            "body": " ".join(self.body),
            # Pairs are letters, digits and "_": nothing to escape inside the quotes.
            "pairs": " ".join(f"'{pair}'" for pair in found),
            "language": language,
        }


def indexed(title: str, text: str, tags: Sequence[str]) -> Indexed:
    """The index's words of an entry whose text (``plain_text`` of its HTML) is ``text``."""
    return Indexed(tuple(words(title)), tuple(words(" ".join(tags))), tuple(words(text)))


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _language(session: AsyncSession) -> str:
    language: str = session.info.get(SEARCH_LANGUAGE, "simple")
    return language


async def index_entries(session: AsyncSession, contents: dict[int, Indexed]) -> None:
    """Put these entries (by id) in the index as they are now, replacing what was there."""
    if not contents:
        return
    if _is_postgresql(session):
        language = _language(session)
        rows = [c.postgresql_row(entry_id, language) for entry_id, c in contents.items()]
        await session.execute(text(PG_UPSERT), rows)
        return
    await session.execute(text(SQLITE_DELETE), [{"id": entry_id} for entry_id in contents])
    await session.execute(
        text(SQLITE_INSERT), [c.sqlite_row(entry_id) for entry_id, c in contents.items()]
    )


SQLITE_DELETE = "DELETE FROM entry_search WHERE rowid = :id"
SQLITE_INSERT = (
    "INSERT INTO entry_search (rowid, title, tags, body) VALUES (:id, :title, :tags, :body)"
)
PG_DOCUMENT = (
    "setweight(to_tsvector(CAST(:language AS regconfig), :title), 'A')"
    " || setweight(to_tsvector(CAST(:language AS regconfig), :tags), 'A')"
    " || setweight(to_tsvector(CAST(:language AS regconfig), :body), 'B')"
)
_PG_UPDATE = (
    " ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document, pairs = excluded.pairs"
)
PG_UPSERT = (
    "INSERT INTO entry_search (entry_id, document, pairs)"  # noqa: S608 - constants
    f" VALUES (:id, {PG_DOCUMENT}, CAST(:pairs AS tsvector)){_PG_UPDATE}"
)


# --- searching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What narrows a search besides its words."""

    author_id: int | None = None
    tag: str | None = None
    written_from: datetime | None = None  # inclusive
    written_before: datetime | None = None  # exclusive
    mine_only: bool = False


RELEVANCE = "relevance"
NEWEST = "newest"
# Best-match order ranks the newest this many matches (filters and visibility applied;
# as many as the result pages reach): finding them reads newest first until there are as
# many, which for a word in a few percent of 100,000 entries was most of the p99 (on
# PostgreSQL 60 ms for 1,000, 30 for 300). A search with more is narrowed by its words, a
# writer, a tag or dates.
RANKED = 300


async def search_ids(
    session: AsyncSession,
    query: Query,
    *,
    viewer_id: int | None,
    filters: Filters,
    order: str,
    limit: int,
    offset: int,
) -> list[int]:
    """The ids of the entries the viewer may see that match, best (or newest) first:
    public entries, and the viewer's own."""
    entries = Entry.__table__.c
    visible = entries.visibility == PUBLIC
    if viewer_id is not None:
        visible = or_(visible, entries.author_id == viewer_id)
    conditions: list[ColumnElement[bool]] = [visible]
    if filters.mine_only:
        conditions.append(entries.author_id == (viewer_id if viewer_id is not None else -1))
    if filters.author_id is not None:
        conditions.append(entries.author_id == filters.author_id)
    if filters.tag is not None:
        tagged = select(EntryTag.entry_id).where(EntryTag.tag == filters.tag)
        conditions.append(entries.id.in_(tagged))
    if filters.written_from is not None:
        conditions.append(entries.written_at >= filters.written_from)
    if filters.written_before is not None:
        conditions.append(entries.written_at < filters.written_before)
    newest = (entries.written_at.desc(), entries.id.desc())
    postgresql = _is_postgresql(session)
    if postgresql:
        match, rank_query = _pg_match(session, query)
        search_id = _pg_search.c.entry_id
        joined = _pg_search.join(Entry.__table__, entries.id == search_id)
    else:
        match = literal_column("entry_search").bool_op("MATCH")(fts5_match(query))
        search_id = _sqlite_search.c.rowid
        joined = _sqlite_search.join(Entry.__table__, entries.id == search_id)
    matching = select(entries.id).select_from(joined).where(match, *conditions)
    if order != RELEVANCE:
        statement = matching.order_by(*newest).limit(limit).offset(offset)
        return list((await session.scalars(statement)).all())
    # Ranked among the newest RANKED matches (read newest first along the index, so the
    # read stops there): ranking every match of a common word took 200-700 ms.
    newest_matches = matching.add_columns(entries.written_at)
    if not postgresql:  # bm25 is only known inside the MATCH; lower is better
        bm25 = func.bm25(literal_column("entry_search"), *_FTS_WEIGHTS)
        newest_matches = newest_matches.add_columns(bm25.label("score"))
    ranked = newest_matches.order_by(search_id.desc()).limit(RANKED).subquery()
    scored = select(ranked.c.id)
    if postgresql:  # ts_rank for those only, not for every row read to find them
        again = _pg_search.alias("ranking")
        # ts_rank: higher is better; as a negative number, lower is, as bm25's.
        score = -func.ts_rank(again.c.document, rank_query)
        scored = scored.add_columns(score.label("score")).join(
            again, again.c.entry_id == ranked.c.id
        )
    statement = (
        scored.order_by(literal_column("score"), ranked.c.written_at.desc(), ranked.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(statement)).all())


def _pg_match(
    session: AsyncSession, query: Query
) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
    """What a PostgreSQL entry must match, and the query it is ranked by (its words, a
    phrase as its words in order).

    The words are in the statement's text, not bound: a prepared statement's generic plan
    guessed the same share of the entries for every word, and read all of them newest
    first for a rare one (100-200 ms a search). ``tsquery`` quotes each word of letters
    and digits; the dialect quotes the whole as a literal."""
    language = _language(session)
    config = bindparam("language", language, literal_execute=True).cast(REGCONFIG)
    in_order = tsquery(query, with_pairs=False)
    looked_up = tsquery(query) if language == "simple" else in_order
    matches: list[ColumnElement[bool]] = []
    if looked_up.words:
        words: BindParameter[str] = bindparam("tsquery", looked_up.words, literal_execute=True)
        matches.append(_pg_search.c.document.bool_op("@@")(func.to_tsquery(config, words)))
    if looked_up.pairs:
        pairs: BindParameter[str] = bindparam("pairs", looked_up.pairs, literal_execute=True)
        matches.append(_pg_search.c.pairs.bool_op("@@")(pairs.cast(TSQUERY)))
    ranked_by: BindParameter[str] = bindparam("ranked", in_order.words, literal_execute=True)
    return and_(*matches), func.to_tsquery(config, ranked_by)


_sqlite_search = table("entry_search", column("rowid"))
_pg_search = table("entry_search", column("entry_id"), column("document"), column("pairs"))
