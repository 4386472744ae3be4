"""Migration 0016 indexes and tags the entries a database already has."""

from __future__ import annotations

from alembic import command

from quartapp.journal.render import render_markdown
from quartapp.migrations import alembic_config
from tests.database import TestDatabase

ENTRIES = [
    ("Été", "Un **été** au bord de la mer. #vacances #Mer"),
    ("Winter", "Snow, and `#notatag` in code. #winter"),
    ("", "Neither title nor tags, only a word: lighthouse."),
]


def test_existing_entries_are_indexed_and_tagged(empty_database: TestDatabase) -> None:
    config = alembic_config(empty_database.url, configure_logging=False)
    command.upgrade(config, "0015")
    empty_database.add_writer(1, "ann")
    empty_database.execute_many(
        "INSERT INTO entries (id, author_id, title, body, body_html, visibility, created_at,"
        " written_at) VALUES (:id, 1, :title, :body, :html, 'public', '2026-01-01 00:00:00',"
        " '2026-01-01 00:00:00')",
        [
            {"id": n + 1, "title": title, "body": body, "html": render_markdown(body)}
            for n, (title, body) in enumerate(ENTRIES)
        ],
    )

    command.upgrade(config, "head")

    assert empty_database.rows("SELECT entry_id, tag FROM entry_tags ORDER BY entry_id, tag") == [
        (1, "mer"),
        (1, "vacances"),
        (2, "winter"),
    ]
    if empty_database.url.startswith("sqlite"):
        found = empty_database.rows(
            "SELECT rowid FROM entry_search WHERE entry_search MATCH :q ORDER BY rowid", q='"ete"'
        )
        words = empty_database.rows("SELECT title, tags, body FROM entry_search WHERE rowid = 1")
        # The words, then each two neighbours as one term.
        assert words == [(
            "ete",
            "vacances mer _vacances_mer",
            "un ete au bord de la mer vacances mer"
            " _un_ete _ete_au _au_bord _bord_de _de_la _la_mer _mer_vacances _vacances_mer",
        )]  # fmt: skip
    else:
        found = empty_database.rows(
            "SELECT entry_id FROM entry_search WHERE document @@ to_tsquery('simple', :q)"
            " ORDER BY entry_id",
            q="ete",
        )
    assert found == [(1,)]
    # Entries written after it go the same way (through the app: test_search.py).


def test_going_back_before_the_indexer_indexes_what_it_has_not_read(
    empty_database: TestDatabase,
) -> None:
    """Before 0019 every write indexed its entry itself: a downgrade leaves none behind.
    (The entry is written with its event, as the app writes it, and nothing indexes it.)"""
    config = alembic_config(empty_database.url, configure_logging=False)
    command.upgrade(config, "head")
    empty_database.add_writer(1, "ann")
    body = "A **lighthouse** at dusk. #coast"
    empty_database.execute(
        "INSERT INTO entries (id, author_id, title, body, body_html, visibility, created_at,"
        " written_at) VALUES (1, 1, 'Été', :body, :html, 'public', '2026-01-01 00:00:00',"
        " '2026-01-01 00:00:00')",
        body=body,
        html=render_markdown(body),
    )
    empty_database.execute(
        "INSERT INTO events (kind, entry_id, author_id, public_before, public_after, created_at)"
        " VALUES ('created', 1, 1, false, true, '2026-01-01 00:00:00')"
    )
    command.downgrade(config, "0018")

    assert "event_readers" not in empty_database.tables()
    assert empty_database.rows("SELECT entry_id, tag FROM entry_tags") == [(1, "coast")]
    if empty_database.url.startswith("sqlite"):
        words = empty_database.rows("SELECT title, tags, body FROM entry_search WHERE rowid = 1")
        assert words == [
            (
                "ete",
                "coast",
                "a lighthouse at dusk coast _a_lighthouse _lighthouse_at _at_dusk _dusk_coast",
            )
        ]
    else:
        found = empty_database.rows(
            "SELECT entry_id FROM entry_search WHERE document @@ to_tsquery('simple', 'lighthouse')"
        )
        assert found == [(1,)]
