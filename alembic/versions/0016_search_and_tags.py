"""Entries' tags, and the search index: an FTS5 table on SQLite, a tsvector table under a
GIN index on PostgreSQL (quartapp/search/index.py). Both filled for the entries already
written, by the same functions the write path uses.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from quartapp.config import load_settings
from quartapp.search.index import PG_UPSERT, SQLITE_INSERT, indexed
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000  # entries read and indexed at a time


def upgrade() -> None:
    op.create_table(
        "entry_tags",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", "tag"),
    )
    op.create_index("ix_entry_tags_tag_entry_id", "entry_tags", ["tag", "entry_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.create_table(
            "entry_search",
            sa.Column("entry_id", sa.Integer(), nullable=False),
            sa.Column("document", sa.dialects.postgresql.TSVECTOR(), nullable=False),
            sa.Column("pairs", sa.dialects.postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("entry_id"),
        )
        # Documents in the table's own pages, not in TOAST, and statistics on ten times
        # the words (quartapp/search/index.py).
        op.execute("ALTER TABLE entry_search SET (toast_tuple_target = 8160)")
        for name in ("document", "pairs"):
            op.execute(f"ALTER TABLE entry_search ALTER COLUMN {name} SET STATISTICS 1000")
        op.create_index(
            "ix_entry_search_document", "entry_search", ["document"], postgresql_using="gin"
        )
        op.create_index(
            "ix_entry_search_pairs", "entry_search", ["pairs"], postgresql_using="gin"
        )
    else:
        # The words are folded by the app (quartapp/search/text.py) before they get here;
        # "_" joins two neighbouring words into one more term (``text.pairs``).
        op.execute(
            "CREATE VIRTUAL TABLE entry_search USING fts5("
            "title, tags, body, tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")"
        )
        # However an entry goes (deleted, or with its account), its words go too.
        op.execute(
            "CREATE TRIGGER entry_search_delete AFTER DELETE ON entries BEGIN"
            " DELETE FROM entry_search WHERE rowid = old.id; END"
        )
    if not context.is_offline_mode():
        _index_existing(postgresql)


def _index_existing(postgresql: bool) -> None:
    bind = op.get_bind()
    language = load_settings().search_language
    last_id = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, title, body_html FROM entries WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last_id, "n": BATCH},
        ).all()
        if not rows:
            return
        tags, documents = [], []
        for entry_id, title, body_html in rows:
            seen = reading(body_html)
            found = tags_in_prose(seen.prose)
            tags += [{"entry_id": entry_id, "tag": tag} for tag in found]
            content = indexed(title, seen.text, found)
            documents.append(
                content.postgresql_row(entry_id, language)
                if postgresql
                else content.sqlite_row(entry_id)
            )
        if tags:
            bind.execute(sa.text("INSERT INTO entry_tags (entry_id, tag) VALUES (:entry_id, :tag)"), tags)
        bind.execute(sa.text(PG_UPSERT if postgresql else SQLITE_INSERT), documents)
        last_id = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_entry_search_pairs", table_name="entry_search")
        op.drop_index("ix_entry_search_document", table_name="entry_search")
        op.drop_table("entry_search")
    else:
        op.execute("DROP TRIGGER entry_search_delete")
        op.execute("DROP TABLE entry_search")
    op.drop_index("ix_entry_tags_tag_entry_id", table_name="entry_tags")
    op.drop_table("entry_tags")
