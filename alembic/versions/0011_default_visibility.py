"""Each account's default visibility for new entries.

New accounts start private. Accounts made before this revision
posted public entries by default, so they keep that until their owner changes it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's batch mode copies the table to change a column: it must stay AUTOINCREMENT, or
# a deleted row's id would be given again (events and pages name rows by id).
KEEP_IDS_UNIQUE = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.add_column(
            sa.Column(
                "default_visibility", sa.String(length=10), nullable=False, server_default="public"
            )
        )
    # 'public' was for the rows already there; from now on an account starts private.
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.alter_column("default_visibility", server_default="private")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS_UNIQUE) as batch_op:
        batch_op.drop_column("default_visibility")
