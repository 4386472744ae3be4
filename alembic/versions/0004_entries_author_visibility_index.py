"""Index entries on (author_id, visibility, id): a profile's public entries, newest first.

Without it a visitor's profile page walks the (visibility, id) index through every public
entry of every writer until it finds a page of this writer's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:30:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain CREATE/DROP INDEX: no table rewrite is needed, on SQLite or PostgreSQL.
def upgrade() -> None:
    op.create_index(
        "ix_entries_author_id_visibility_id", "entries", ["author_id", "visibility", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_entries_author_id_visibility_id", table_name="entries")
