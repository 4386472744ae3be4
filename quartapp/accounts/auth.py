"""quart-auth wired to revocable, server-side login sessions.

quart-auth signs whatever ``auth_id`` it is given and keeps no state, so a cookie copied
before logout would stay valid for its whole lifetime. Here ``auth_id`` is a random
session id whose hash must still be in ``login_sessions``; logout, a password change and
account deletion delete those rows.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

from quart import Quart
from quart_auth import Action, AuthUser, QuartAuth, current_user
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts import store
from quartapp.accounts.store import FoundLogin, LoginState, SessionPolicy
from quartapp.db import Database
from quartapp.live.viewers import Viewer
from quartapp.models import User, utcnow
from quartapp.services import services


async def check_login(
    database: Database, policy: SessionPolicy, token: str, read: AsyncSession
) -> User | None:
    """The user a login id belongs to, or None when it is unknown, revoked or expired."""
    return await _settle(database, policy, token, await store.find_login(read, token))


async def _settle(
    database: Database, policy: SessionPolicy, token: str, found: FoundLogin | None
) -> User | None:
    """Delete an expired login; write a login's last-seen time at most once a
    ``LAST_SEEN_RESOLUTION``. The write transaction hands the request's read connection
    back first (``Database.transaction``); other callers close their reader before this."""
    if found is None:
        return None
    now = utcnow()
    state = policy.state(found.login, now)
    if state is LoginState.CURRENT:
        return found.user
    async with database.transaction() as session:
        if state is LoginState.EXPIRED:
            await store.end_session(session, token)
            return None
        await store.mark_seen(session, found.login.id, now)
    return found.user


class SessionUser(AuthUser):
    """The visitor behind the auth cookie, checked against the session table once a request."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._resolved = False
        self._user: User | None = None

    async def account(self) -> User | None:
        if not self._resolved:
            self._resolved = True
            if self.auth_id is not None and self.action != Action.DELETE:
                database = services().database
                self._user = await check_login(
                    database, services().session_policy, self.auth_id, database.request_session()
                )
        return self._user

    @property
    async def is_authenticated(self) -> bool:
        return await self.account() is not None


async def current_account() -> User | None:
    """The logged-in user of this request or websocket, or None for a visitor."""
    return await cast(SessionUser, current_user).account()


async def require_account() -> User:
    """The logged-in user; call only behind ``login_required``."""
    user = await current_account()
    assert user is not None
    return user


def current_session_token() -> str | None:
    return cast(SessionUser, current_user).auth_id


class LiveViewers:
    """Who is on a live socket, for ``quartapp.live`` (its ``Viewers``)."""

    def __init__(self, database: Database, policy: SessionPolicy) -> None:
        self._database = database
        self._policy = policy

    async def current(self) -> Viewer | None:
        user = await current_account()
        token = current_session_token()
        return Viewer(user.id, token) if user is not None and token is not None else None

    async def signed_in(self, session_tokens: Collection[str]) -> set[str]:
        if not session_tokens:
            return set()
        async with self._database.reader() as read:
            return await store.current_logins(read, session_tokens, self._policy, utcnow())


def init_auth(app: Quart, policy: SessionPolicy, secure_cookies: bool) -> QuartAuth:
    return QuartAuth(
        app,
        cookie_secure=secure_cookies,
        cookie_samesite="Lax",
        cookie_http_only=True,
        duration=int(policy.remember_for.total_seconds()),
        user_class=SessionUser,
    )
