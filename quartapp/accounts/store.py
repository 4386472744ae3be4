"""Users and their login sessions: queries and writes, no request in sight.

Every function takes the session first: the request's read session for reads, the write
transaction (``Database.transaction``) for writes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.live import events
from quartapp.models import PUBLIC, Entry, LoginSession, User, utcnow

# Writing last-seen on every request would make every page view a write, and on SQLite
# writes take turns across all workers. So it is written at most once a minute per login:
# a login without "remember me" may end up to that much before its idle timeout, never after.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class DuplicateUserError(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class LoginState(Enum):
    CURRENT = "current"
    STALE = "stale"  # valid, but its last-seen time is due to be written
    EXPIRED = "expired"


@dataclass(frozen=True)
class SessionPolicy:
    remember_for: timedelta
    idle_timeout: timedelta

    def is_expired(self, login: LoginSession, now: datetime) -> bool:
        if login.remember:
            return now - login.created_at > self.remember_for
        return now - login.last_seen_at > self.idle_timeout

    def state(self, login: LoginSession, now: datetime) -> LoginState:
        if self.is_expired(login, now):
            return LoginState.EXPIRED
        if now - login.last_seen_at > LAST_SEEN_RESOLUTION:
            return LoginState.STALE
        return LoginState.CURRENT


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str
    password_hash: str
    confirmed: bool = True  # False: the address must be confirmed by a link first


@dataclass(frozen=True)
class FoundLogin:
    login: LoginSession
    user: User


def username_key(username: str) -> str:
    return username.lower()


def normalise_email(email: str) -> str:
    """The address as email-validator normalises it: the local part in Unicode NFC, the
    domain in lowercase Unicode form (``ÉXAMPLE.com`` and ``xn--xample-9ua.com`` agree)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:  # not an address (a login name typed with an @): as typed
        return email.strip()


def email_key(email: str) -> str:
    """What two addresses must share to be the same: normalised, and case ignored, as
    every mail provider people use ignores it."""
    return normalise_email(email).lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _taken_field(session: AsyncSession, username: str, email: str) -> str | None:
    taken_username = await session.scalar(
        select(func.count()).where(User.username_key == username_key(username))
    )
    if taken_username:
        return "username"
    taken_email = await session.scalar(
        select(func.count()).where(User.email_key == email_key(email))
    )
    return "email" if taken_email else None


async def create_user(session: AsyncSession, new: NewUser) -> User:
    """Insert a user; ``DuplicateUserError`` names the field that is already taken."""
    taken = await _taken_field(session, new.username, new.email)
    if taken:
        raise DuplicateUserError(taken)
    user = User(
        username=new.username,
        username_key=username_key(new.username),
        email=normalise_email(new.email),
        email_key=email_key(new.email),
        password_hash=new.password_hash,
        about="",
        created_at=(now := utcnow()),
        email_confirmed_at=now if new.confirmed else None,
    )
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        # Lost a race with another registration (PostgreSQL reads are not serialized):
        # the savepoint is rolled back, and the other's row is committed and visible.
        raise DuplicateUserError(
            await _taken_field(session, new.username, new.email) or "username"
        ) from None
    return user


async def find_user_for_login(session: AsyncSession, login: str) -> User | None:
    """A user by username or, when it has an ``@``, by e-mail; both ignore case."""
    if "@" in login:
        condition = User.email_key == email_key(login)
    else:
        condition = User.username_key == username_key(login)
    result: User | None = await session.scalar(select(User).where(condition))
    return result


# Built once: on every page, building these took about as long as running them.
_USER_BY_USERNAME = select(User).where(User.username_key == bindparam("key"))
_LOGIN_AND_USER = (
    select(LoginSession, User)
    .join(User, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == bindparam("token_hash"))
)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result: User | None = await session.scalar(_USER_BY_USERNAME, {"key": username_key(username)})
    return result


async def start_session(
    session: AsyncSession,
    user_id: int,
    remember: bool,
    user_agent: str | None = None,
    client_address: str | None = None,
) -> str:
    """Record a new login and return its random id (the only copy of it)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            token_hash=hash_token(token),
            user_id=user_id,
            remember=remember,
            created_at=now,
            last_seen_at=now,
            user_agent=user_agent,
            client_address=client_address,
        )
    )
    return token


async def logins_of(session: AsyncSession, user_id: int) -> list[LoginSession]:
    """Every login of the user, the most recently used first."""
    query = (
        select(LoginSession)
        .where(LoginSession.user_id == user_id)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    )
    return list((await session.scalars(query)).all())


async def end_login(session: AsyncSession, user_id: int, login_id: int) -> str | None:
    """End one login of this user (by its id, never another user's); its live sockets
    are told to check themselves. Its token hash, or None if the user has no such login."""
    ended: str | None = await session.scalar(
        delete(LoginSession)
        .where(LoginSession.id == login_id, LoginSession.user_id == user_id)
        .returning(LoginSession.token_hash)
    )
    if ended is not None:
        await events.record(session, events.SESSIONS, user_id)
    return ended


async def end_other_logins(session: AsyncSession, user_id: int, keep_token: str) -> int:
    """End every login of this user but the one ``keep_token`` names; how many ended."""
    ended = (
        await session.scalars(
            delete(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.token_hash != hash_token(keep_token),
            )
            .returning(LoginSession.id)
        )
    ).all()
    if ended:
        await events.record(session, events.SESSIONS, user_id)
    return len(ended)


async def find_login(session: AsyncSession, token: str) -> FoundLogin | None:
    """The login a session id names, and its user; None when it is unknown or revoked."""
    row = (await session.execute(_LOGIN_AND_USER, {"token_hash": hash_token(token)})).first()
    return None if row is None else FoundLogin(*row)


# Logins looked up per query: a worker's default cap of sockets (LIVE_MAX_SOCKETS) in one,
# under SQLite's (32,766) and asyncpg's (32,767) limits on bound parameters.
LOGINS_PER_QUERY = 10_000


async def current_logins(
    session: AsyncSession, tokens: Collection[str], policy: SessionPolicy, now: datetime
) -> set[str]:
    """Those of these session ids whose login still exists and has not expired by ``now``.

    Read only: for live sockets, which must not keep a login in use. One query for every
    ``LOGINS_PER_QUERY`` of them.
    """
    by_hash = {hash_token(token): token for token in tokens}
    hashes = list(by_hash)
    current: set[str] = set()
    for start in range(0, len(hashes), LOGINS_PER_QUERY):
        chunk = hashes[start : start + LOGINS_PER_QUERY]
        logins = await session.scalars(
            select(LoginSession).where(LoginSession.token_hash.in_(chunk))
        )
        current.update(
            by_hash[login.token_hash] for login in logins if not policy.is_expired(login, now)
        )
    return current


async def mark_seen(session: AsyncSession, login_id: int, now: datetime) -> None:
    await session.execute(
        update(LoginSession).where(LoginSession.id == login_id).values(last_seen_at=now)
    )


async def end_session(session: AsyncSession, token: str) -> bool:
    """Forget a login; its live connections are told to check themselves (and close)."""
    user_id = await session.scalar(
        delete(LoginSession)
        .where(LoginSession.token_hash == hash_token(token))
        .returning(LoginSession.user_id)
    )
    if user_id is None:
        return False
    await events.record(session, events.SESSIONS, user_id)
    return True


async def change_password(
    session: AsyncSession, user_id: int, password_hash: str, keep_token: str
) -> None:
    """Store the new hash and end every other login of this user."""
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
    await session.execute(
        delete(LoginSession).where(
            LoginSession.user_id == user_id,
            LoginSession.token_hash != hash_token(keep_token),
        )
    )
    await events.record(session, events.SESSIONS, user_id)


async def reset_password(session: AsyncSession, user_id: int, password_hash: str) -> None:
    """Store the new hash and end every login of this user (the link came by e-mail: the
    person may not be signed in anywhere, and whoever was must sign in again)."""
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    await events.record(session, events.SESSIONS, user_id)


async def confirm_email(session: AsyncSession, user_id: int, now: datetime) -> User | None:
    """Mark the address confirmed (once: a later link changes nothing); the user."""
    await session.execute(
        update(User)
        .where(User.id == user_id, User.email_confirmed_at.is_(None))
        .values(email_confirmed_at=now)
    )
    return await session.get(User, user_id)


async def _unique_change(session: AsyncSession, user_id: int, field: str, **values: object) -> None:
    """Change the user's row; ``DuplicateUserError(field)`` if another account holds the
    value (checked first, and by the unique index should another change win the race)."""
    key_column = User.username_key if field == "username" else User.email_key
    key = values[key_column.key]
    taken = await session.scalar(select(func.count()).where(key_column == key, User.id != user_id))
    if taken:
        raise DuplicateUserError(field)
    try:
        async with session.begin_nested():
            await session.execute(update(User).where(User.id == user_id).values(**values))
    except IntegrityError:
        raise DuplicateUserError(field) from None


async def change_username(session: AsyncSession, user_id: int, username: str) -> None:
    """A new name (its old profile address stops answering); pages kept with the old name
    are rendered again (a ``renamed`` event)."""
    await _unique_change(
        session, user_id, "username", username=username, username_key=username_key(username)
    )
    await events.record(session, events.RENAMED, user_id)


async def change_email(session: AsyncSession, user_id: int, email: str, now: datetime) -> None:
    """A new address, confirmed by its link (or by no mail being set up)."""
    await _unique_change(
        session,
        user_id,
        "email",
        email=normalise_email(email),
        email_key=email_key(email),
        email_confirmed_at=now,
    )


async def find_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def update_profile(
    session: AsyncSession, user_id: int, about: str, default_visibility: str
) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(about=about, default_visibility=default_visibility)
    )


async def delete_user(session: AsyncSession, user_id: int) -> None:
    """Delete the user; their entries and login sessions go with them (ON DELETE CASCADE),
    and every open page sees their entries disappear."""
    entries = (
        await session.execute(select(Entry.id, Entry.visibility).where(Entry.author_id == user_id))
    ).all()
    await session.execute(delete(User).where(User.id == user_id))
    for entry_id, visibility in entries:
        await events.record(
            session,
            events.DELETED,
            user_id,
            entry_id=entry_id,
            public_before=visibility == PUBLIC,
        )
    await events.record(session, events.SESSIONS, user_id)


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Lock the account's row for the rest of the transaction, so that two requests at
    once cannot both pass a check of its rows (a count, a sum) before writing: PostgreSQL
    does not serialize writers the way SQLite's ``BEGIN IMMEDIATE`` does."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def set_time_zone(session: AsyncSession, user_id: int, zone: str) -> None:
    """The writer's time zone (an IANA name the caller checked)."""
    await session.execute(update(User).where(User.id == user_id).values(time_zone=zone))
