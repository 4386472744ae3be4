"""Starting a login session, shared by every way in: password, password and a second
step, passkey."""

from __future__ import annotations

from quart import request
from quart_auth import login_user

from quartapp.accounts import store
from quartapp.accounts.auth import SessionUser, current_session_token
from quartapp.accounts.devices import USER_AGENT_KEPT
from quartapp.models import User
from quartapp.security.csrf import rotate_csrf_token
from quartapp.services import transaction


async def log_in(user: User, remember: bool) -> None:
    """Start a new login session (a new id every time) and forget the previous one."""
    previous = current_session_token()
    async with transaction() as session:
        if previous is not None:
            await store.end_session(session, previous)
        token = await store.start_session(
            session,
            user.id,
            remember,
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_KEPT] or None,
            client_address=request.remote_addr,
        )
    login_user(SessionUser(token), remember=remember)
    rotate_csrf_token()
