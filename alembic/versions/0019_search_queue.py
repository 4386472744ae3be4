"""The search index is brought up to date after each write, not in it: the entries
written since it last read them wait in ``search_queue``. Nothing to fill: up to this
revision every write indexed its entry in its own transaction.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from quartapp.config import load_settings
from quartapp.search.index import PG_DOCUMENT, indexed
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_queue",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id"),
    )


def downgrade() -> None:
    # The write path before 0019 indexes in step: what waits is indexed first.
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    language = load_settings().search_language
    rows = bind.execute(
        sa.text(
            "SELECT id, title, body_html FROM entries"
            " WHERE id IN (SELECT entry_id FROM search_queue)"
        )
    ).all()
    for entry_id, title, body_html in rows:
        seen = reading(body_html)
        content = indexed(title, seen.text, tags_in_prose(seen.prose))
        values = {"id": entry_id, "title": content.title, "tags": content.tags,
                  "body": content.body, "language": language}  # fmt: skip
        if postgresql:
            bind.execute(
                sa.text(
                    f"INSERT INTO entry_search (entry_id, document) VALUES (:id, {PG_DOCUMENT})"  # noqa: S608 - constants
                    " ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document"
                ),
                values,
            )
        else:
            bind.execute(sa.text("DELETE FROM entry_search WHERE rowid = :id"), values)
            bind.execute(
                sa.text(
                    "INSERT INTO entry_search (rowid, title, tags, body)"
                    " VALUES (:id, :title, :tags, :body)"
                ),
                values,
            )
    op.drop_table("search_queue")
