"""Drafts: saved as a writer types (``static/drafts.js``), listed at ``/drafts``, opened
into their box, posted or discarded. See ``drafts.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quart import Blueprint, Response, abort, flash, render_template, request, url_for
from quart_auth import login_required
from werkzeug.datastructures import MultiDict

from quartapp.accounts.auth import require_account
from quartapp.journal import drafts, store
from quartapp.journal.forms import EntryForm
from quartapp.journal.routes import entry_content
from quartapp.models import VISIBILITIES, Draft, utcnow
from quartapp.ratelimits import Limit, rate_limited
from quartapp.services import read_session, transaction
from quartapp.web import json_answer, no_store, see_other

blueprint = Blueprint("drafts", __name__, template_folder="templates")


async def _own_box(key: str) -> tuple[int, drafts.Box]:
    """The writer and the box ``key`` names: 404 unless it is theirs (an entry they wrote)."""
    user = await require_account()
    box = drafts.box_of(key)
    if box is None:
        abort(404)
    if box.entry_id is not None:
        entry = await store.get_entry(read_session(), box.entry_id)
        if entry is None or entry.author_id != user.id:
            abort(404)
    return user.id, box


def open_url(draft: Draft) -> str:
    """Where the draft's box is, with the draft in it."""
    if draft.entry_id is None:
        return url_for("journal.index", draft="1") + "#compose-heading"
    return url_for("journal.edit", entry_id=draft.entry_id, draft="1")


@dataclass(frozen=True)
class DraftRow:
    key: str
    heading: str
    words: int
    characters: int
    saved_at: datetime
    is_edit: bool
    open_url: str


def _heading(draft: Draft) -> str:
    text = draft.title.strip() or draft.body.strip().split("\n", 1)[0].strip()
    return (text[:80] + "\u2026") if len(text) > 80 else (text or "(empty)")


@blueprint.route("/drafts")
@login_required
async def listing() -> Response:
    user = await require_account()
    rows = [
        DraftRow(
            key=draft.key,
            heading=_heading(draft),
            words=len(draft.body.split()),
            characters=len(draft.body),
            saved_at=draft.updated_at,
            is_edit=draft.entry_id is not None,
            open_url=open_url(draft),
        )
        for draft in await drafts.of_writer(read_session(), user.id)
    ]
    page = await render_template("journal/drafts.html", rows=rows)
    return no_store(Response(page, mimetype="text/html"))


@blueprint.route("/drafts/<key>")
@login_required
async def show(key: str) -> Response:
    """The box's draft as JSON, for the page to offer it back."""
    user_id, box = await _own_box(key)
    draft = await drafts.get(read_session(), user_id, box.key)
    if draft is None:
        return json_answer({"error": "No draft."}, 404)
    return json_answer(
        {
            "title": draft.title,
            "body": draft.body,
            "visibility": draft.visibility,
            "written_at": draft.written_at,
            "time_zone": draft.time_zone,
            "saved_at": draft.updated_at.isoformat(),
        }
    )


@blueprint.route("/drafts/<key>", methods=["POST"])
@rate_limited(Limit.DRAFTS)
@login_required
async def save(key: str) -> Response:
    user_id, box = await _own_box(key)
    form = await request.form
    title, body = form.get("title", ""), form.get("body", "")
    visibility = form.get("visibility", "")
    written_at, time_zone = form.get("written_at", ""), form.get("time_zone", "")
    if len(title) > drafts.TITLE_MAX:
        return json_answer(
            {"error": f"A draft's title is at most {drafts.TITLE_MAX:,} characters."}, 400
        )
    if len(body) > drafts.BODY_MAX:
        return json_answer({"error": f"A draft is at most {drafts.BODY_MAX:,} characters."}, 400)
    if visibility not in ("", *VISIBILITIES):
        return json_answer({"error": "visibility must be 'public' or 'private'."}, 400)
    # Kept as typed (a half-set date is checked when the entry is posted), only bounded.
    if len(written_at) > drafts.WRITTEN_AT_MAX:
        return json_answer(
            {"error": f"written_at is at most {drafts.WRITTEN_AT_MAX} characters."}, 400
        )
    if len(time_zone) > drafts.TIME_ZONE_MAX:
        return json_answer(
            {"error": f"time_zone is at most {drafts.TIME_ZONE_MAX} characters."}, 400
        )
    now = utcnow()
    async with transaction() as session:
        if body.strip() or title.strip():
            await drafts.save(
                session,
                user_id,
                box,
                title=title,
                body=body,
                visibility=visibility,
                written_at=written_at,
                time_zone=time_zone,
                now=now,
            )
        else:  # emptied: nothing to keep
            await drafts.discard(session, user_id, box.key)
    return json_answer({"saved_at": now.isoformat()})


@blueprint.route("/drafts/<key>/discard", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def discard(key: str) -> Response:
    user_id, box = await _own_box(key)
    async with transaction() as session:
        found = await drafts.discard(session, user_id, box.key)
    if request.accept_mimetypes.best == "application/json":
        return json_answer({"discarded": found})
    await flash("The draft is discarded." if found else "That draft was gone already.", "success")
    return see_other("drafts.listing")


@blueprint.route("/drafts/<key>/publish", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def publish(key: str) -> Response:
    """Post the draft as it is (a compose draft) or save it into its entry."""
    user_id, box = await _own_box(key)
    draft = await drafts.get(read_session(), user_id, box.key)
    if draft is None:
        await flash("That draft was gone already.", "error")
        return see_other("drafts.listing")
    # Checked as if the draft were posted from its box: the same form, the same rules.
    user = await require_account()
    posted = {
        "title": draft.title,
        "body": draft.body,
        "visibility": draft.visibility or user.default_visibility,
        "written_at": draft.written_at,
        "time_zone": draft.time_zone,
    }
    form = EntryForm(MultiDict(posted))
    if not form.validate() or (content := await entry_content(form)) is None:
        problems = " ".join(error for errors in form.errors.values() for error in errors)
        await flash(f"This draft cannot be posted as it is: {problems} Open it to fix it.", "error")
        return see_other("drafts.listing")
    async with transaction() as session:
        if box.entry_id is None:
            entry = await store.create_entry(session, user_id, content)
        else:
            changed = await store.update_entry(session, box.entry_id, content)
            if changed is None:
                abort(404)
            entry = changed
        await drafts.discard(session, user_id, box.key)
    await flash(
        "Your entry is posted." if box.entry_id is None else "Your changes are saved.", "success"
    )
    return see_other("journal.show", entry_id=entry.id)
