"""Property: for any writers, entries and queries, a search finds exactly the entries the
viewer may read whose words match, as worked out here by brute force, and never another
writer's private entry. Entries go in through the app's write path (``create_entry``)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quart import Quart
from sqlalchemy import delete

from quartapp.journal import store
from quartapp.journal.store import EntryContent
from quartapp.models import Entry
from quartapp.search.index import NEWEST, Filters, search_ids
from quartapp.search.text import Query, QueryError, Term, parse_query, words
from quartapp.services import services_of
from tests.database import TestDatabase

WORDS = ["sea", "Café", "cafe", "walk", "walking", "rain", "Zoë", "night", "sea-side"]
WRITERS = (1, 2, 3)

entry = st.tuples(
    st.sampled_from(WRITERS),
    st.sampled_from(["public", "private"]),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),
)
typed_term = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda w: "-" + w),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: f'"{" ".join(ws)}"'),
    st.sampled_from(["wal", "caf", "nig"]),  # the start of a word
)


def has(body: list[str], term: Term) -> bool:
    """Whether the words ``body`` hold ``term``'s words in a row (its last as a prefix)."""
    size = len(term.words)
    for start in range(len(body) - size + 1):
        window = body[start : start + size]
        if window[:-1] == list(term.words[:-1]) and (
            window[-1] == term.words[-1] or (term.prefix and window[-1].startswith(term.words[-1]))
        ):
            return True
    return False


def matches(body: list[str], query: Query) -> bool:
    return all(has(body, t) for t in query.wanted) and not any(has(body, t) for t in query.unwanted)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    entries=st.lists(entry, min_size=1, max_size=12),
    queries=st.lists(st.lists(typed_term, min_size=1, max_size=3).map(" ".join), min_size=1,
                     max_size=4),
    viewer=st.sampled_from([None, *WRITERS]),
)  # fmt: skip
async def test_a_search_finds_exactly_what_the_viewer_may_read(
    app: Quart,
    test_database: TestDatabase,
    entries: list[tuple[int, str, list[str]]],
    queries: list[str],
    viewer: int | None,
) -> None:
    database = services_of(app).database
    if not test_database.rows("SELECT id FROM users WHERE id = 3"):
        for n in WRITERS:
            test_database.add_writer(n, f"w{n}")
    written: dict[int, tuple[int, str, list[str]]] = {}
    async with database.transaction() as session:
        await session.execute(delete(Entry))
        for author, visibility, body in entries:
            text = " ".join(body)
            content = EntryContent("", text, visibility, f"<p>{text}</p>")
            created = await store.create_entry(session, author, content)
            written[created.id] = (author, visibility, words(text))
    await services_of(app).search_index.catch_up()  # what GET /search does first
    for typed in queries:
        try:
            query = parse_query(typed)
        except QueryError:
            continue
        async with database.reader() as session:
            found = await search_ids(
                session, query, viewer_id=viewer, filters=Filters(), order=NEWEST,
                limit=100, offset=0,
            )  # fmt: skip
        for entry_id in found:
            author, visibility, _ = written[entry_id]
            assert visibility == "public" or author == viewer, (typed, viewer, entry_id)
        expected = {
            entry_id
            for entry_id, (author, visibility, body) in written.items()
            if (visibility == "public" or author == viewer) and matches(body, query)
        }
        assert set(found) == expected, (typed, viewer)
