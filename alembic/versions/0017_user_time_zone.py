"""Each writer's time zone, for the days of their archive and "on this day".

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's batch mode copies the table to change a column: it must stay AUTOINCREMENT.
KEEP_IDS_UNIQUE = {"sqlite_autoincrement": True}


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no copy of the table.
    op.add_column(
        "users", sa.Column("time_zone", sa.String(length=64), nullable=False, server_default="")
    )


def downgrade() -> None:
    with op.batch_alter_table("users", table_kwargs=KEEP_IDS_UNIQUE) as batch:
        batch.drop_column("time_zone")
