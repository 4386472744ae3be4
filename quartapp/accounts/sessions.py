"""The account's signed-in sessions: where, since when, last seen; end one, or all others.

An ended session stops working on its very next request in every worker, and its live
sockets close at once (the same session event a logout records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quart import Blueprint, Response, abort, flash, render_template
from quart_auth import login_required

from quartapp.accounts import store
from quartapp.accounts.auth import current_session_token, require_account
from quartapp.accounts.devices import describe_user_agent, masked_address
from quartapp.accounts.routes import logged_out
from quartapp.models import LoginSession, utcnow
from quartapp.ratelimits import Limit, rate_limited
from quartapp.services import read_session, services, transaction
from quartapp.web import see_other

blueprint = Blueprint("sessions", __name__, template_folder="templates")


@dataclass(frozen=True)
class SessionRow:
    """One login as its owner sees it."""

    id: int
    device: str
    address: str
    started: datetime
    last_seen: datetime
    remembered: bool
    this_device: bool


def _rows(logins: list[LoginSession], current_hash: str | None) -> list[SessionRow]:
    policy = services().session_policy
    now = utcnow()
    return [
        SessionRow(
            id=login.id,
            device=describe_user_agent(login.user_agent),
            address=masked_address(login.client_address),
            started=login.created_at,
            last_seen=login.last_seen_at,
            remembered=login.remember,
            this_device=login.token_hash == current_hash,
        )
        for login in logins
        if not policy.is_expired(login, now)  # ended already, whatever the table holds
    ]


@blueprint.route("/account/sessions")
@login_required
async def sessions() -> str:
    user = await require_account()
    token = current_session_token()
    rows = _rows(
        await store.logins_of(read_session(), user.id),
        store.hash_token(token) if token else None,
    )
    rows.sort(key=lambda row: not row.this_device)  # this device first
    return await render_template("accounts/sessions.html", rows=rows)


@blueprint.route("/account/sessions/<id:login_id>/revoke", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def revoke(login_id: int) -> Response:
    user = await require_account()
    token = current_session_token()
    async with transaction() as session:
        ended = await store.end_login(session, user.id, login_id)
    if ended is None:
        abort(404)
    if token is not None and ended == store.hash_token(token):  # this device's own
        return await logged_out("That was this device's session: you are logged out.")
    await flash("That session is ended: it is logged out.", "success")
    return see_other("sessions.sessions")


@blueprint.route("/account/sessions/revoke-others", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def revoke_others() -> Response:
    user = await require_account()
    token = current_session_token()
    assert token is not None  # signed in
    async with transaction() as session:
        count = await store.end_other_logins(session, user.id, token)
    if count:
        await flash(f"Ended {count} other session{'s' if count != 1 else ''}.", "success")
    else:
        await flash("There were no other sessions.", "success")
    return see_other("sessions.sessions")
