"""An entry's history for its author: ``/entries/<id>/history`` lists every version,
shows what changed between two, and restores one (see ``history.py``)."""

from __future__ import annotations

from quart import Blueprint, Response, abort, flash, render_template, request
from quart_auth import login_required

from quartapp.journal import history, store
from quartapp.journal.forms import EntryForm
from quartapp.journal.routes import entry_content, get_visible_entry
from quartapp.ratelimits import Limit, rate_limited
from quartapp.services import read_session, transaction
from quartapp.web import as_id, no_store, see_other

blueprint = Blueprint("history", __name__, template_folder="templates")


def _version_argument(name: str) -> int | None:
    """``?from=`` / ``?to=``: a version's number, or None for the entry as it is now."""
    raw = request.args.get(name, "now")
    if raw == "now":
        return None
    found = as_id(raw)
    if found is None:
        abort(400, f"The '{name}' parameter must be a version's number or 'now'.")
    return found


@blueprint.route("/entries/<id:entry_id>/history")
@login_required
async def show(entry_id: int) -> Response:
    entry = await get_visible_entry(entry_id, check_author=True)
    versions = await history.versions(read_session(), entry)
    by_id = {version.id: version for version in versions}
    compared = None
    if "from" in request.args:
        older, newer = by_id.get(_version_argument("from")), by_id.get(_version_argument("to"))
        if older is None or newer is None:
            abort(404)
        compared = (older, newer, history.line_diff(older.body, newer.body))
    page = await render_template(
        "journal/history.html", entry=entry, versions=versions, compared=compared
    )
    return no_store(Response(page, mimetype="text/html"))


@blueprint.route("/entries/<id:entry_id>/history/<id:version_id>/restore", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def restore(entry_id: int, version_id: int) -> Response:
    entry = await get_visible_entry(entry_id, check_author=True)
    version = await history.version(read_session(), entry, version_id)
    if version is None:
        abort(404)
    form = EntryForm(data={"title": version.title, "body": version.body})
    form.visibility.data = version.visibility
    content = await entry_content(form)
    if content is None:
        await flash(" ".join(form.body.errors), "error")
        return see_other("history.show", entry_id=entry.id)
    async with transaction() as session:
        if await store.update_entry(session, entry.id, content) is None:
            abort(404)
    await flash("That version is restored. What it replaced is kept in the history too.", "success")
    return see_other("journal.show", entry_id=entry.id)
