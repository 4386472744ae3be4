"""Following a writer from their profile, and ``/following``: what they write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, abort, flash, render_template
from quart_auth import login_required
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts import store as accounts
from quartapp.accounts.auth import require_account
from quartapp.follows import store
from quartapp.journal import store as journal
from quartapp.journal.routes import page_cursor
from quartapp.ratelimits import Limit, rate_limited
from quartapp.services import read_session, transaction
from quartapp.web import see_other

blueprint = Blueprint("follows", __name__, template_folder="templates")
Change = Callable[[AsyncSession, int, int], Awaitable[None]]


async def _change(username: str, change: Change, said: str) -> Response:
    """Follow or unfollow the writer ``username`` (404 if there is none, 400 if it is the
    viewer), say ``said`` of them, and go back to their profile."""
    viewer = await require_account()
    writer = await accounts.get_user_by_username(read_session(), username)
    if writer is None:
        abort(404)
    if writer.id == viewer.id:
        abort(400, "You cannot follow yourself: your own entries are on your profile.")
    async with transaction() as session:
        await change(session, viewer.id, writer.id)
    await flash(said.format(writer.username), "success")
    return see_other("journal.profile", username=writer.username)


@blueprint.route("/u/<username>/follow", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def follow(username: str) -> Response:
    return await _change(username, store.follow, "You now follow {}.")


@blueprint.route("/u/<username>/unfollow", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def unfollow(username: str) -> Response:
    return await _change(username, store.unfollow, "You no longer follow {}.")


@blueprint.route("/following")
@login_required
async def following() -> str:
    viewer = await require_account()
    page = await journal.visible_page(read_session(), viewer.id, at=page_cursor(), followed=True)
    names = await store.followed_names(read_session(), viewer.id)
    return await render_template("follows/following.html", page=page, followed=names)
