"""The search index follows the events table instead of being written by each write:
``event_readers`` keeps how far it has read. Up to this revision every write indexed its
entry in its own transaction, so the index starts up to date, at the newest event.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from quartapp.config import load_settings
from quartapp.search.index import PG_UPSERT, SQLITE_DELETE, SQLITE_INSERT, indexed
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH = "search"


def upgrade() -> None:
    op.create_table(
        "event_readers",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "INSERT INTO event_readers (name, seq)"
        f" SELECT '{SEARCH}', coalesce(max(seq), 0) FROM events"  # noqa: S608 - a constant
    )


def downgrade() -> None:
    # The write path before 0019 indexes in step: what the indexer has not read yet is
    # indexed (and its tags kept) first.
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    language = load_settings().search_language
    rows = bind.execute(
        sa.text(
            "SELECT id, title, body_html FROM entries WHERE id IN ("
            " SELECT entry_id FROM events WHERE kind IN ('created', 'updated')"
            " AND seq > coalesce((SELECT seq FROM event_readers WHERE name = :name), 0))"
        ),
        {"name": SEARCH},
    ).all()
    for entry_id, title, body_html in rows:
        seen = reading(body_html)
        tags = tags_in_prose(seen.prose)
        content = indexed(title, seen.text, tags)
        bind.execute(sa.text("DELETE FROM entry_tags WHERE entry_id = :id"), {"id": entry_id})
        for tag in tags:
            bind.execute(
                sa.text("INSERT INTO entry_tags (entry_id, tag) VALUES (:id, :tag)"),
                {"id": entry_id, "tag": tag},
            )
        if postgresql:
            bind.execute(sa.text(PG_UPSERT), content.postgresql_row(entry_id, language))
        else:
            bind.execute(sa.text(SQLITE_DELETE), {"id": entry_id})
            bind.execute(sa.text(SQLITE_INSERT), content.sqlite_row(entry_id))
    op.drop_table("event_readers")
