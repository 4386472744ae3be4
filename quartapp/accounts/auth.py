"""quart-auth wired to revocable, server-side login sessions.

quart-auth signs whatever ``auth_id`` it is given and keeps no state, so a cookie copied
before logout would stay valid for its whole lifetime. Here ``auth_id`` is a random
session id whose hash must still be in ``login_sessions``; logout, a password change and
account deletion delete those rows.
"""

from __future__ import annotations

from typing import cast

from quart import Quart, current_app
from quart_auth import Action, AuthUser, QuartAuth, current_user

from quartapp.accounts import service
from quartapp.accounts.service import SessionPolicy
from quartapp.db import get_database, request_session
from quartapp.models import User


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
                self._user = await service.resolve_session(
                    get_database(),
                    request_session(),
                    self.auth_id,
                    current_app.extensions["session_policy"],
                )
        return self._user

    @property
    async def is_authenticated(self) -> bool:
        return await self.account() is not None


async def current_account() -> User | None:
    """The logged-in user of this request or websocket, or None for a visitor."""
    return await cast(SessionUser, current_user).account()


def current_session_token() -> str | None:
    return cast(SessionUser, current_user).auth_id


def init_auth(app: Quart, policy: SessionPolicy, secure_cookies: bool) -> QuartAuth:
    app.extensions["session_policy"] = policy
    auth = QuartAuth(
        app,
        cookie_secure=secure_cookies,
        cookie_samesite="Lax",
        cookie_http_only=True,
        duration=int(policy.remember_for.total_seconds()),
        user_class=SessionUser,
    )
    # quart-auth adds ``current_user`` to templates with a plain function, which Quart runs
    # in a worker thread at every render. Templates use ``viewer`` (quartapp.create_app).
    app.template_context_processors[None].remove(auth._template_context)
    return auth
