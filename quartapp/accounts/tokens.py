"""Links sent by e-mail: confirm an address, reset a password, confirm a new address.

A token is 256 random bits in the link; the table keeps its SHA-256, so a copy of the
database opens no account. Each is used once (deleted as it is used, in one statement,
so two clicks cannot both pass) and expires: a reset after an hour, the others after two
days. Changing the password voids every reset link of the account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts.store import hash_token, lock_user
from quartapp.models import AccountToken

CONFIRM = "confirm"
RESET = "reset"
NEW_EMAIL = "email"
LIFETIMES = {
    CONFIRM: timedelta(days=2),
    RESET: timedelta(hours=1),
    NEW_EMAIL: timedelta(days=2),
}
# Links of one purpose sent to one account in LIFETIMES' time; past it the same answer is
# given and nothing is sent, so nobody can fill a stranger's mailbox.
MOST_AT_ONCE = 3
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Used:
    """What a used token was for."""

    user_id: int
    new_email: str | None


async def issue(
    session: AsyncSession,
    user_id: int,
    purpose: str,
    now: datetime,
    new_email: str | None = None,
) -> str | None:
    """A new token for ``purpose``, or None when the account already has ``MOST_AT_ONCE``
    of them that have not expired. Expired ones of the account are cleared on the way."""
    await lock_user(session, user_id)  # two requests at once cannot both pass the count
    await session.execute(
        delete(AccountToken).where(AccountToken.user_id == user_id, AccountToken.expires_at <= now)
    )
    live = await session.scalar(
        select(func.count(AccountToken.id)).where(
            AccountToken.user_id == user_id, AccountToken.purpose == purpose
        )
    )
    if (live or 0) >= MOST_AT_ONCE:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccountToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
            new_email=new_email,
        )
    )
    return token


async def holder(session: AsyncSession, purpose: str, token: str, now: datetime) -> int | None:
    """The account whose link this is, while it still works (to show its form); the
    token is not used up."""
    found: int | None = await session.scalar(
        select(AccountToken.user_id).where(
            AccountToken.token_hash == hash_token(token),
            AccountToken.purpose == purpose,
            AccountToken.expires_at > now,
        )
    )
    return found


async def use(session: AsyncSession, purpose: str, token: str, now: datetime) -> Used | None:
    """Use the token up: what it was for, or None if it is unknown, used or expired."""
    row = (
        await session.execute(
            delete(AccountToken)
            .where(
                AccountToken.token_hash == hash_token(token),
                AccountToken.purpose == purpose,
                AccountToken.expires_at > now,
            )
            .returning(AccountToken.user_id, AccountToken.new_email)
        )
    ).first()
    return None if row is None else Used(row[0], row[1])


async def void(session: AsyncSession, user_id: int, purpose: str) -> None:
    """Every link of ``purpose`` the account was sent stops working."""
    await session.execute(
        delete(AccountToken).where(AccountToken.user_id == user_id, AccountToken.purpose == purpose)
    )
