"""Users and their login sessions: queries and writes, no request in sight."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import Database
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


@dataclass(frozen=True)
class SessionPolicy:
    remember_for: timedelta
    idle_timeout: timedelta

    def is_expired(self, login: LoginSession, now: datetime) -> bool:
        if login.remember:
            return now - login.created_at > self.remember_for
        return now - login.last_seen_at > self.idle_timeout


def username_key(username: str) -> str:
    return username.lower()


def email_key(email: str) -> str:
    return email.strip().lower()


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


async def create_user(db: Database, username: str, email: str, password_hash: str) -> User:
    """Insert a user; ``DuplicateUserError`` names the field that is already taken."""
    try:
        async with db.transaction() as session:
            taken = await _taken_field(session, username, email)
            if taken:
                raise DuplicateUserError(taken)
            user = User(
                username=username,
                username_key=username_key(username),
                email=email,
                email_key=email_key(email),
                password_hash=password_hash,
                about="",
                created_at=utcnow(),
            )
            session.add(user)
    except IntegrityError:
        # Lost a race with another registration (PostgreSQL reads are not serialized).
        async with db.transaction() as session:
            raise DuplicateUserError(
                await _taken_field(session, username, email) or "username"
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


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def start_session(db: Database, user_id: int, remember: bool) -> str:
    """Record a new login and return its random id (the only copy of it)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.transaction() as session:
        session.add(
            LoginSession(
                token_hash=hash_token(token),
                user_id=user_id,
                remember=remember,
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


async def resolve_session(
    db: Database, session: AsyncSession, token: str, policy: SessionPolicy
) -> User | None:
    """The user a login id belongs to, or None when it is unknown, revoked or expired."""
    row = (await session.execute(_LOGIN_AND_USER, {"token_hash": hash_token(token)})).first()
    if row is None:
        return None
    login, user = row
    now = utcnow()
    expired = policy.is_expired(login, now)
    stale = now - login.last_seen_at > LAST_SEEN_RESOLUTION
    if not (expired or stale):
        return user
    # Give the read connection back before waiting for a writer: callers holding one while
    # waiting for another could drain the pool (a websocket's recheck holds its own reader,
    # which transaction() does not know of). What was read stays readable.
    await session.close()
    if expired:
        await end_session(db, token)
        return None
    async with db.transaction() as write:
        await write.execute(
            update(LoginSession).where(LoginSession.id == login.id).values(last_seen_at=now)
        )
    return user


async def end_session(db: Database, token: str) -> None:
    """Forget a login; its live connections are told to check themselves (and close)."""
    async with db.transaction() as session:
        user_id = await session.scalar(
            delete(LoginSession)
            .where(LoginSession.token_hash == hash_token(token))
            .returning(LoginSession.user_id)
        )
        if user_id is not None:
            await events.record(session, events.SESSIONS, user_id)


async def change_password(db: Database, user_id: int, password_hash: str, keep_token: str) -> None:
    """Store the new hash and end every other login of this user, in one transaction."""
    async with db.transaction() as session:
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


async def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.id == user_id).values(password_hash=password_hash)
        )


async def update_about(db: Database, user_id: int, about: str) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(about=about))


async def delete_user(db: Database, user_id: int) -> None:
    """Delete the user; their entries and login sessions go with them (ON DELETE CASCADE),
    and every open page sees their entries disappear."""
    async with db.transaction() as session:
        entries = (
            await session.execute(
                select(Entry.id, Entry.visibility).where(Entry.author_id == user_id)
            )
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
