"""E-mail keys as email-validator normalises addresses, not only lowercased.

``email_key`` decides whether an address is taken and finds the account at login. It was
``strip().lower()``, so the same address typed in NFD and NFC, or with its domain in
punycode, counted as two. The rule is copied here rather than imported: a migration must
do what it did when it was written.

An address whose new key another account already has keeps its old key (and so cannot
collide); none is expected, and the upgrade says so in its output if one is found.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("email_key", sa.String),
)


def _normalised(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return email.strip()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email, users.c.email_key)).all()
    taken = {row.email_key for row in rows}
    for row in rows:
        email = _normalised(row.email)
        key = email.lower()
        if key != row.email_key and key in taken:
            print(f"users.id={row.id}: its normalised e-mail key is taken; kept the old one")
            continue
        if key != row.email_key or email != row.email:
            taken.discard(row.email_key)
            taken.add(key)
            connection.execute(
                users.update().where(users.c.id == row.id).values(email=email, email_key=key)
            )


def downgrade() -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.select(users.c.id, users.c.email)).all():
        connection.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(email_key=row.email.strip().lower())
        )
