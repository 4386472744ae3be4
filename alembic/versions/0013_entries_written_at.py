"""When each entry was written, as its writer says (default: when it was posted); pages
list entries in this order, along new indexes that replace the ones by id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 23:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's batch mode copies the table to change a column: it must stay AUTOINCREMENT, or
# a deleted row's id would be given again (events and pages name rows by id).
KEEP_IDS_UNIQUE = {"sqlite_autoincrement": True}

OLD_INDEXES = {
    "ix_entries_visibility_id": ["visibility", "id"],
    "ix_entries_author_id_id": ["author_id", "id"],
    "ix_entries_author_id_visibility_id": ["author_id", "visibility", "id"],
}
NEW_INDEXES = {
    "ix_entries_visibility_written_at_id": ["visibility", "written_at", "id"],
    "ix_entries_author_id_written_at_id": ["author_id", "written_at", "id"],
    "ix_entries_author_id_visibility_written_at_id": [
        "author_id",
        "visibility",
        "written_at",
        "id",
    ],
}


def upgrade() -> None:
    # Nullable first, filled from created_at, then required: no table rewrite on
    # PostgreSQL for the default, and SQLite's batch mode copies the table once.
    with op.batch_alter_table("entries", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.add_column(sa.Column("written_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE entries SET written_at = created_at"))
    with op.batch_alter_table("entries", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.alter_column(
            "written_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, "entries", columns)
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="entries")


def downgrade() -> None:
    # The new indexes name written_at: they go before the column does.
    for name in NEW_INDEXES:
        op.drop_index(name, table_name="entries")
    with op.batch_alter_table("entries", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.drop_column("written_at")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "entries", columns)
