"""Saved password-generator policies (criteria only, never a password).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:18:23.460426
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("name_key", sa.String(length=60), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_saved_policies_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_policies")),
        sa.UniqueConstraint("user_id", "name_key", name=op.f("uq_saved_policies_user_id")),
    )
    with op.batch_alter_table("saved_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_policies_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saved_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_policies_user_id"))

    op.drop_table("saved_policies")
