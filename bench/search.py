"""Benchmark: full-text search at 100,000 entries, on SQLite and PostgreSQL. Not a test;
prints a table.

Seeds 1,000 writers and 100,000 entries (about 150 words each; 30% private; up to three
of 200 tags) whose words are drawn with Zipf's law (frequency ~ 1/rank, as in real text)
from the EFF's 7,776-word list that xkcdpass ships, mixed with 60 common English function
words; each body's HTML is its paragraphs in <p> (what the Markdown renderer makes of such
text, at a hundredth of its time). The entries are written at
revision 0015 and migration 0016 indexes them (its time is shown). Then, for each kind of
query (one word, two words, a phrase taken from an entry, the first letters of a word as
typed), 200 searches by random signed-in writers, each through what ``GET /search`` runs
(``search_ids`` for the first page, the entries, the snippets), one after another: p50 and
p99. Last, the cost of the index when writing: entries written through the app's
``create_entry`` one after another, in turns with a worker's search indexer running beside
them (as deployed: it follows the events the writes record, ``quartapp/search/indexer.py``)
and without one; and the indexer's time for each entry.

    .venv/bin/python bench/search.py                        # both databases, ~15 minutes
    .venv/bin/python bench/search.py --databases sqlite --entries 20000

PostgreSQL: a database ``bench_search`` is created (and dropped at the end) next to the
one in ``--postgresql`` (default: the tests' ``postgresql+asyncpg://postgres@127.0.0.1/test``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.render import render_markdown
from quartapp.journal.store import EntryContent
from quartapp.migrations import alembic_config
from quartapp.search.index import RELEVANCE, Filters, search_ids
from quartapp.search.indexer import SearchIndexer
from quartapp.search.text import highlighted, parse_query, plain_text, words

FUNCTION_WORDS = (
    "the", "of", "and", "to", "a", "in", "is", "it", "that", "was", "he", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "from", "i", "have", "or", "by", "one",
    "had", "not", "but", "what", "all", "were", "when", "we", "there", "can", "an", "your",
    "which", "their", "said", "if", "do", "will", "each", "about", "how", "up", "out", "them",
    "then", "she", "many", "some", "so", "these", "would", "other", "into", "has", "her",
)  # fmt: skip
SEARCHES = 200  # of each kind
WRITES = 300  # of each way, with the index and without
QUERY_KINDS = ("one word", "two words", "phrase", "prefix")


class Vocabulary:
    """Words drawn with Zipf's law: the word of rank r about 1/r as often as the first."""

    def __init__(self, rng: random.Random) -> None:
        eff = [line.split()[-1] for line in files("xkcdpass").joinpath("static/eff-long")
               .read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
        rng.shuffle(eff)
        self.words = [*FUNCTION_WORDS, *eff]
        self.cumulative = list(
            itertools.accumulate(1 / rank for rank in range(1, len(self.words) + 1))
        )
        self.rng = rng

    def draw(self, count: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=count)

    def searchable(self) -> str:
        """A word someone would search for: not a function word, not among the rarest."""
        return self.rng.choice(self.words[len(FUNCTION_WORDS) : len(FUNCTION_WORDS) + 3000])


def entry_markdown(vocabulary: Vocabulary, rng: random.Random, tags: list[str]) -> str:
    paragraphs = []
    for _ in range(rng.randint(2, 4)):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            sentence = vocabulary.draw(rng.randint(6, 16))
            sentences.append(" ".join(sentence).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    chosen = rng.sample(tags, rng.choice((0, 0, 1, 2, 3)))
    if chosen:
        paragraphs.append(" ".join(f"#{tag}" for tag in chosen))
    return "\n\n".join(paragraphs)


def seed_rows(count: int, writers: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    vocabulary = Vocabulary(rng)
    tags = [f"{a}-{b}" for a, b in zip(vocabulary.draw(200), vocabulary.draw(200), strict=True)]
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for number in range(1, count + 1):
        body = entry_markdown(vocabulary, rng, tags)
        moment = start + timedelta(seconds=rng.randrange(5 * 365 * 86400))
        yield {
            "id": number,
            "author_id": rng.randint(1, writers),
            "title": " ".join(vocabulary.draw(rng.randint(0, 5))).capitalize(),
            "body": body,
            "body_html": "".join(f"<p>{p}</p>\n" for p in body.split("\n\n")),
            "visibility": "private" if rng.random() < 0.3 else "public",
            "created_at": moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "written_at": moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
        }


USER = (
    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, about,"
    " created_at, default_visibility) VALUES (:id, :name, :name, :email, :email, 'x', '',"
    " '2021-01-01 00:00:00', 'public')"
)
ENTRY = (
    "INSERT INTO entries (id, author_id, title, body, body_html, visibility, created_at,"
    " written_at) VALUES (:id, :author_id, :title, :body, :body_html, :visibility,"
    " :created_at, :written_at)"
)


def seed(url: str, entries: int, writers: int, rng: random.Random) -> tuple[float, float]:
    """The database at ``url`` migrated to 0015, filled, then migrated to the head (which
    indexes every entry): seconds to seed, and to index."""
    config = alembic_config(url, configure_logging=False)
    command.upgrade(config, "0015")
    sync_url = make_url(url).set(
        drivername="sqlite" if url.startswith("sqlite") else "postgresql+psycopg"
    )
    engine = create_engine(sync_url)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(USER),
            [{"id": n, "name": f"writer{n:04d}", "email": f"w{n}@example.com"}
             for n in range(1, writers + 1)],
        )  # fmt: skip
        batch: list[dict[str, Any]] = []
        for row in seed_rows(entries, writers, rng):
            batch.append(row)
            if len(batch) == 2_000:
                connection.execute(text(ENTRY), batch)
                batch = []
        if batch:
            connection.execute(text(ENTRY), batch)
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT setval('entries_id_seq', :n)"), {"n": entries})
            connection.execute(text("SELECT setval('users_id_seq', :n)"), {"n": writers})
    engine.dispose()
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    command.upgrade(config, "head")
    indexed = time.perf_counter() - started
    if sync_url.get_backend_name() == "postgresql":
        # What autovacuum does within a minute of such a change: without statistics the
        # planner guessed a tenth of the entries for any word, and read every entry
        # newest first for a word in a few hundred. (SQLite, as deployed, has none.)
        engine = create_engine(sync_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
        engine.dispose()
    return seeded, indexed


def queries(kind: str, vocabulary: Vocabulary, phrases: list[str], rng: random.Random) -> str:
    if kind == "one word":
        return vocabulary.searchable()
    if kind == "two words":
        return f"{vocabulary.searchable()} {vocabulary.searchable()}"
    if kind == "phrase":
        return f'"{rng.choice(phrases)}"'
    word = vocabulary.searchable()
    return word[: max(3, min(len(word) - 1, rng.randint(3, 5)))]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure_searches(
    database: Database, writers: int, rng: random.Random, sample: list[str]
) -> dict[str, list[float]]:
    vocabulary = Vocabulary(random.Random(7))  # noqa: S311 (sample text, not a secret)
    phrases = []
    for html in sample:
        found = words(plain_text(html))
        if len(found) > 3:
            start = rng.randrange(len(found) - 2)
            phrases.append(" ".join(found[start : start + 2]))
    timings: dict[str, list[float]] = {kind: [] for kind in QUERY_KINDS}
    for _ in range(SEARCHES):
        for kind in QUERY_KINDS:
            query = parse_query(queries(kind, vocabulary, phrases, rng))
            viewer = rng.randint(1, writers)
            started = time.perf_counter()
            async with database.reader() as session:
                ids = await search_ids(
                    session, query, viewer_id=viewer, filters=Filters(), order=RELEVANCE,
                    limit=21, offset=0,
                )  # fmt: skip
                listed = await store.listed_entries(session, ids[:20])
                for entry in listed:
                    highlighted(entry.title, query, limit=None)
                    highlighted(plain_text(entry.body_html), query)
            timings[kind].append((time.perf_counter() - started) * 1000)
    return timings


SPACING = 0.02  # seconds between two writes (50 a second: a busy site on one machine)
BURST = 200  # writes back to back, for what the index costs in capacity


async def write_one(database: Database, writers: int, rng: random.Random, body: str) -> float:
    content = EntryContent("A day", body, "public", render_markdown(body))
    started = time.perf_counter()
    async with database.transaction() as session:
        await store.create_entry(session, rng.randint(1, writers), content)
    return (time.perf_counter() - started) * 1000


async def measure_writes(
    database: Database, writers: int, rng: random.Random
) -> dict[str, list[float]]:
    """Entries written through ``create_entry``, with a worker's indexer running beside
    the writes as deployed (woken by each commit; in the same event loop; on SQLite,
    taking turns for the write lock) and without one, in turns, rounds of 50:

    - ``with``/``without``: each write's time, the writes ``SPACING`` apart;
    - ``burst with``/``burst without``: ``BURST`` writes back to back, until all are
      written, and with the indexer until all are indexed too (one figure a round);
    - ``indexing``: the indexer's time an entry, reading a round's writes at once.
    """
    vocabulary = Vocabulary(random.Random(11))  # noqa: S311 (sample text, not a secret)
    tags = ["sea", "work", "family", "books"]
    indexer = SearchIndexer(database)
    database.listen(indexer.heard)
    timings: dict[str, list[float]] = {
        "with": [], "without": [], "burst with": [], "burst without": [], "indexing": []
    }  # fmt: skip
    for round_ in range(WRITES // 50):
        for way in ("with", "without") if round_ % 2 == 0 else ("without", "with"):
            if way == "with":
                indexer.start()
            for _ in range(50):
                body = entry_markdown(vocabulary, rng, tags)
                timings[way].append(await write_one(database, writers, rng, body))
                await asyncio.sleep(SPACING)
            await indexer.stop()
            started = time.perf_counter()
            read = await indexer.catch_up()  # after the round without: its 50 entries
            if way == "without":
                timings["indexing"].append((time.perf_counter() - started) * 1000 / read)
    for way in ("with", "without", "without", "with"):
        bodies = [entry_markdown(vocabulary, rng, tags) for _ in range(BURST)]
        if way == "with":
            indexer.start()
        started = time.perf_counter()
        for body in bodies:
            await write_one(database, writers, rng, body)
        if way == "with":
            await indexer.stop()
            await indexer.catch_up()  # what it had not read yet, as a search would
        timings[f"burst {way}"].append((time.perf_counter() - started) * 1000 / BURST)
        await indexer.catch_up()  # the next burst starts with nothing unread
    return timings


async def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    rng = random.Random(2026)  # noqa: S311 (sample text, not a secret)
    # Alembic runs its own event loop: in a thread of its own.
    seeded, indexed = await asyncio.to_thread(seed, url, args.entries, args.writers, rng)
    lines = [f"# {label}: seeded {args.entries:,} entries in {seeded:.0f} s; "
             f"migration 0016 indexed them in {indexed:.0f} s"]  # fmt: skip
    print(lines[0], flush=True)
    database = Database(url)
    await database.open()
    try:
        async with database.reader() as session:
            sample = list(
                (await session.scalars(text("SELECT body_html FROM entries LIMIT 2000"))).all()
            )
        searched = await measure_searches(database, args.writers, rng, sample)
        written = await measure_writes(database, args.writers, rng)
    finally:
        await database.close()
    for kind, values in searched.items():
        lines.append(f"| {label} | {kind} | {statistics.median(values):.1f} | "
                     f"{percentile(values, 0.99):.1f} | {max(values):.1f} |")  # fmt: skip
    with_index, without = (statistics.median(written[way]) for way in ("with", "without"))
    lines.append(f"| {label} | writing an entry, {SPACING * 1000:.0f} ms apart "
                 f"(with / without the indexer) | {with_index:.2f} / {without:.2f} | "
                 f"{percentile(written['with'], 0.99):.2f} / "
                 f"{percentile(written['without'], 0.99):.2f} | "
                 f"{with_index / without - 1:+.0%} |")  # fmt: skip
    burst_with, burst_without = (min(written[f"burst {way}"]) for way in ("with", "without"))
    lines.append(f"| {label} | {BURST} writes back to back, a write (with the indexing "
                 f"/ without) | {burst_with:.2f} / {burst_without:.2f} | | "
                 f"{burst_with / burst_without - 1:+.0%} |")  # fmt: skip
    per_entry = statistics.median(written["indexing"])
    lines.append(f"| {label} | indexing an entry after its commit (in the background) | "
                 f"{per_entry:.2f} | | |")  # fmt: skip
    return lines


def postgresql_database(base: str, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database ``name`` beside ``base``'s; its URL and how to drop it."""
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=1_000)
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--postgresql", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL database beside which bench_search is made",
    )  # fmt: skip
    args = parser.parse_args()
    lines = [
        "| database | what | p50 ms | p99 ms | max ms (write: change) |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="search-bench-") as work:
        for name in args.databases:
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(work) / 'search.db'}"
                lines += (await run_database("SQLite", url, args))[1:]
            else:
                url, drop = postgresql_database(args.postgresql, "bench_search")
                try:
                    lines += (await run_database("PostgreSQL", url, args))[1:]
                finally:
                    drop()
    print(f"# {SEARCHES} searches of each kind, one after another; {WRITES} entries written "
          "each way, in turns; times in ms")  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
