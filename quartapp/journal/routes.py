"""Home page, entries and profiles."""

from __future__ import annotations

from quart import Blueprint, abort, flash, redirect, render_template, request
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from quartapp import live
from quartapp.accounts import service as accounts
from quartapp.accounts.auth import current_account
from quartapp.db import get_database, request_session
from quartapp.forms import posted_form
from quartapp.journal import store
from quartapp.journal.forms import EntryForm
from quartapp.models import MAX_ID, Entry, User

blueprint = Blueprint("journal", __name__, template_folder="templates")

Page = str | tuple[str, int]


def _before_argument() -> int | None:
    """``?before=<entry id>``: a positive whole number, or a 400 naming it."""
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= MAX_ID):
        abort(400, "The 'before' parameter must be a positive entry number.")
    return int(raw)


async def get_visible_entry(entry_id: int, *, check_author: bool = False) -> Entry:
    """The entry if this viewer may see it (404 otherwise); with ``check_author``, 403
    unless the viewer wrote it. Someone else's private entry is a 404: it does not exist
    for them."""
    viewer = await current_account()
    entry = await store.get_entry(request_session(), entry_id)
    is_author = entry is not None and viewer is not None and entry.author_id == viewer.id
    if entry is None or (not entry.is_public and not is_author):
        abort(404)
    if check_author and not is_author:
        abort(403)
    return entry


async def _home_page(viewer: User | None, form: EntryForm, status: int = 200) -> tuple[str, int]:
    before = _before_argument()
    page = await store.visible_page(request_session(), viewer.id if viewer else None, before=before)
    html = await render_template("journal/index.html", page=page, form=form, before=before)
    return html, status


@blueprint.route("/")
async def index() -> tuple[str, int]:
    return await _home_page(await current_account(), EntryForm())


@blueprint.route("/entries", methods=["POST"])
@login_required
async def create() -> Page | WerkzeugResponse:
    viewer = await current_account()
    assert viewer is not None
    form = await posted_form(EntryForm)
    if not form.validate():
        return await _home_page(viewer, form, status=400)
    entry_id = await store.create_entry(get_database(), viewer.id, *form.cleaned())
    await live.notify()
    await flash("Your entry is posted.", "success")
    return redirect(f"/entries/{entry_id}", 303)


@blueprint.route("/entries/<id:entry_id>")
async def show(entry_id: int) -> str:
    entry = await get_visible_entry(entry_id)
    return await render_template("journal/entry.html", entry=entry)


@blueprint.route("/entries/<id:entry_id>/edit", methods=["GET", "POST"])
@login_required
async def edit(entry_id: int) -> Page | WerkzeugResponse:
    entry = await get_visible_entry(entry_id, check_author=True)
    if request.method == "GET":
        form = EntryForm(obj=entry)
        return await render_template("journal/edit.html", entry=entry, form=form)
    form = await posted_form(EntryForm)
    if not form.validate():
        return await render_template("journal/edit.html", entry=entry, form=form), 400
    await store.update_entry(get_database(), entry.id, *form.cleaned())
    await live.notify()
    await flash("Your changes are saved.", "success")
    return redirect(f"/entries/{entry.id}", 303)


@blueprint.route("/entries/<id:entry_id>/delete", methods=["POST"])
@login_required
async def delete(entry_id: int) -> WerkzeugResponse:
    entry = await get_visible_entry(entry_id, check_author=True)
    await store.delete_entry(get_database(), entry.id)
    await live.notify()
    await flash("The entry is deleted.", "success")
    return redirect("/", 303)


@blueprint.route("/u/<username>")
async def profile(username: str) -> str:
    author = await accounts.get_user_by_username(request_session(), username)
    if author is None:
        abort(404)
    viewer = await current_account()
    before = _before_argument()
    page = await store.visible_page(
        request_session(), viewer.id if viewer else None, before=before, author_id=author.id
    )
    return await render_template("journal/profile.html", author=author, page=page, before=before)
