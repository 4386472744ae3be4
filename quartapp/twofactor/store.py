"""What two-factor sign-in keeps: the app's secret on the user's row, hashed recovery
codes, passkeys. Every "use it once" is one conditional statement, so two requests at the
same moment cannot both pass."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts.store import lock_user
from quartapp.models import Passkey, RecoveryCode, User

USER_HANDLE_BYTES = 32
MAX_PASSKEYS = 20


def _changed(result: Any) -> int:
    count: int = result.rowcount
    return count


async def start_enrolment(session: AsyncSession, user_id: int, secret: str) -> None:
    """A new secret for the app, not yet in force (a first code turns it on)."""
    await session.execute(
        update(User)
        .where(User.id == user_id, User.totp_enabled_at.is_(None))
        .values(totp_secret=secret, totp_last_step=None)
    )


async def enable(
    session: AsyncSession, user_id: int, step: int, code_hashes: Sequence[str], now: datetime
) -> bool:
    """Turn the app on (its first code was at ``step``) with fresh recovery codes; False
    if it was on already (another tab)."""
    turned_on = _changed(
        await session.execute(
            update(User)
            .where(
                User.id == user_id,
                User.totp_enabled_at.is_(None),
                User.totp_secret.is_not(None),
            )
            .values(totp_enabled_at=now, totp_last_step=step)
        )
    )
    if turned_on:
        await replace_recovery_codes(session, user_id, code_hashes)
    return turned_on == 1


async def disable(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(totp_secret=None, totp_enabled_at=None, totp_last_step=None)
    )
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def use_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Take the app's code of ``step``: False if that step, or a later one, was used."""
    return (
        _changed(
            await session.execute(
                update(User)
                .where(
                    User.id == user_id,
                    User.totp_enabled_at.is_not(None),
                    (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
        )
        == 1
    )


async def replace_recovery_codes(
    session: AsyncSession, user_id: int, code_hashes: Sequence[str]
) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=code) for code in code_hashes)


async def use_recovery_code(session: AsyncSession, user_id: int, code_hash: str) -> bool:
    return (
        _changed(
            await session.execute(
                delete(RecoveryCode).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash
                )
            )
        )
        == 1
    )


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user_id)
    )
    return count or 0


# --- passkeys ---------------------------------------------------------------------------


async def passkeys_of(session: AsyncSession, user_id: int) -> list[Passkey]:
    rows = await session.scalars(
        select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
    )
    return list(rows)


async def has_passkeys(session: AsyncSession, user_id: int) -> bool:
    found = await session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


async def user_handle(session: AsyncSession, user_id: int) -> bytes:
    """The account's WebAuthn user handle, made on first use: random, so a passkey names
    no account id."""
    handle = await session.scalar(select(User.passkey_user_handle).where(User.id == user_id))
    if handle is None:
        handle = secrets.token_bytes(USER_HANDLE_BYTES)
        await session.execute(
            update(User).where(User.id == user_id).values(passkey_user_handle=handle)
        )
    return handle


async def user_of_handle(session: AsyncSession, handle: bytes) -> int | None:
    found: int | None = await session.scalar(
        select(User.id).where(User.passkey_user_handle == handle)
    )
    return found


async def add_passkey(
    session: AsyncSession,
    user_id: int,
    *,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    name: str,
    transports: Sequence[str],
    now: datetime,
) -> Passkey | None:
    """Keep a new passkey; None when the account has ``MAX_PASSKEYS`` already."""
    await lock_user(session, user_id)  # two at once cannot both pass the count
    count = await session.scalar(select(func.count(Passkey.id)).where(Passkey.user_id == user_id))
    if (count or 0) >= MAX_PASSKEYS:
        return None
    passkey = Passkey(
        user_id=user_id,
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        name=name,
        transports=",".join(transports),
        created_at=now,
    )
    session.add(passkey)
    await session.flush()
    return passkey


async def passkey_of_credential(session: AsyncSession, credential_id: bytes) -> Passkey | None:
    found: Passkey | None = await session.scalar(
        select(Passkey).where(Passkey.credential_id == credential_id)
    )
    return found


async def passkey_used(
    session: AsyncSession, passkey_id: int, sign_count: int, now: datetime
) -> None:
    await session.execute(
        update(Passkey)
        .where(Passkey.id == passkey_id)
        .values(sign_count=sign_count, last_used_at=now)
    )


async def rename_passkey(session: AsyncSession, user_id: int, passkey_id: int, name: str) -> bool:
    return (
        _changed(
            await session.execute(
                update(Passkey)
                .where(Passkey.id == passkey_id, Passkey.user_id == user_id)
                .values(name=name)
            )
        )
        == 1
    )


async def remove_passkey(session: AsyncSession, user_id: int, passkey_id: int) -> str | None:
    """Remove one of the account's passkeys: its name, or None if it has no such passkey."""
    row = (
        await session.execute(
            delete(Passkey)
            .where(Passkey.id == passkey_id, Passkey.user_id == user_id)
            .returning(Passkey.name)
        )
    ).first()
    return None if row is None else str(row[0])
