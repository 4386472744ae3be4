"""Home page, entries and profiles."""

from __future__ import annotations

from typing import cast

from markupsafe import Markup
from quart import Blueprint, Response, abort, flash, render_template, request
from quart import session as cookie_session
from quart_auth import login_required

from quartapp.accounts import store as accounts
from quartapp.accounts.auth import current_account, require_account
from quartapp.forms import posted_form
from quartapp.journal import store
from quartapp.journal.forms import EntryForm
from quartapp.journal.kept import VisitorHome
from quartapp.journal.render import RenderFailed, RenderTimeout
from quartapp.journal.store import EntryContent
from quartapp.models import Entry, User
from quartapp.ratelimits import Limit, rate_limited, refusal
from quartapp.services import read_session, services, transaction
from quartapp.web import HtmlAnswer, as_id, see_other

blueprint = Blueprint("journal", __name__, template_folder="templates")


def _before_argument() -> int | None:
    """``?before=<entry id>``: a positive whole number, or a 400 naming it."""
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    before = as_id(raw)
    if before is None:
        abort(400, "The 'before' parameter must be a positive entry number.")
    return before


async def _content(form: EntryForm) -> EntryContent | None:
    """The form's entry with its body rendered; None, with the reason on the body field,
    when rendering ran out of time."""
    try:
        body_html = await services().renderer.render(form.body.data or "")
    except RenderTimeout:
        problem = (
            "This entry's Markdown is too complex to show (it took too long to render): "
            "simplify it, with fewer brackets or less nesting."
        )
    except RenderFailed:  # logged by the renderer, which starts afresh
        problem = "The entry could not be rendered just now, so nothing was saved: send it again."
    else:
        return form.content(body_html)
    cast(list[str], form.body.errors).append(problem)
    return None


async def get_visible_entry(entry_id: int, *, check_author: bool = False) -> Entry:
    """The entry if this viewer may see it (404 otherwise); with ``check_author``, 403
    unless the viewer wrote it. Someone else's private entry is a 404: it does not exist
    for them."""
    viewer = await current_account()
    entry = await store.get_entry(read_session(), entry_id)
    is_author = entry is not None and viewer is not None and entry.author_id == viewer.id
    if entry is None or (not entry.is_public and not is_author):
        abort(404)
    if check_author and not is_author:
        abort(403)
    return entry


async def _blank_compose_fields() -> Markup:
    """The fields of an untouched compose form, rendered once per app: WTForms' widgets
    were a tenth of a signed-in home page's time, and a blank form is the same for all."""
    kept = services().kept_pages
    if kept.blank_compose_fields is None:
        html = await render_template("journal/_entry_fields.html", form=EntryForm())
        kept.blank_compose_fields = Markup(html)  # noqa: S704 - autoescaped
    return kept.blank_compose_fields


async def _home_page(
    viewer: User | None, form: EntryForm | None, status: int = 200
) -> tuple[str, int]:
    """The home page; for a writer with ``form`` None, a blank compose form."""
    html, _ = await _render_home(viewer, form, _before_argument())
    return html, status


async def _render_home(
    viewer: User | None, form: EntryForm | None, before: int | None
) -> tuple[str, int]:
    """The page's HTML, and the newest change it includes (its live seq)."""
    page = await store.visible_page(read_session(), viewer.id if viewer else None, before=before)
    blank_fields = await _blank_compose_fields() if viewer is not None and form is None else None
    html = await render_template(
        "journal/index.html", page=page, form=form, before=before, blank_fields=blank_fields
    )
    return html, page.live_seq


async def _visitor_home() -> str:
    """The newest entries as a visitor sees them, the same for every visitor.

    Every change to what the page shows (an entry written, edited, made private or
    deleted, an account deleted) is a live event in the same transaction, so while the
    newest event is still the one the page was rendered at, the page is current: one small
    query instead of the page's, and no template (a third of a visitor's page). Checked on
    every request, in every worker, so a change shows at once wherever it was made.
    """
    kept = services().kept_pages
    home = kept.visitor_home
    if home is not None and home.live_seq == await store.newest_change(read_session()):
        return home.html
    html, live_seq = await _render_home(None, None, before=None)
    kept.visitor_home = VisitorHome(live_seq, html)
    return html


@blueprint.route("/")
async def index() -> tuple[str, int]:
    viewer = await current_account()
    before = _before_argument()
    if viewer is None and before is None and "_flashes" not in cookie_session:
        return await _visitor_home(), 200
    # No form object: a visitor sees none, a writer a blank one (building one was 3% of a page).
    html, _ = await _render_home(viewer, None, before)
    return html, 200


@blueprint.route("/entries", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def create() -> HtmlAnswer | Response:
    viewer = await require_account()
    form = await posted_form(EntryForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _home_page(viewer, form, status=429)
    if not form.validate() or (content := await _content(form)) is None:
        return await _home_page(viewer, form, status=400)
    async with transaction() as session:
        entry = await store.create_entry(session, viewer.id, content)
    await flash("Your entry is posted.", "success")
    return see_other("journal.show", entry_id=entry.id)


@blueprint.route("/entries/<id:entry_id>")
async def show(entry_id: int) -> str:
    entry = await get_visible_entry(entry_id)
    return await render_template("journal/entry.html", entry=entry)


@blueprint.route("/entries/<id:entry_id>/edit", methods=["GET", "POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def edit(entry_id: int) -> HtmlAnswer | Response:
    entry = await get_visible_entry(entry_id, check_author=True)
    if request.method == "GET":
        form = EntryForm(obj=entry)
        return await render_template("journal/edit.html", entry=entry, form=form)
    form = await posted_form(EntryForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await render_template("journal/edit.html", entry=entry, form=form), 429
    if not form.validate() or (content := await _content(form)) is None:
        return await render_template("journal/edit.html", entry=entry, form=form), 400
    async with transaction() as session:
        await store.update_entry(session, entry.id, content)
    await flash("Your changes are saved.", "success")
    return see_other("journal.show", entry_id=entry.id)


@blueprint.route("/entries/<id:entry_id>/delete", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def delete(entry_id: int) -> Response:
    entry = await get_visible_entry(entry_id, check_author=True)
    async with transaction() as session:
        await store.delete_entry(session, entry.id)
    await flash("The entry is deleted.", "success")
    return see_other("journal.index")


@blueprint.route("/u/<username>")
async def profile(username: str) -> str:
    author = await accounts.get_user_by_username(read_session(), username)
    if author is None:
        abort(404)
    viewer = await current_account()
    before = _before_argument()
    page = await store.visible_page(
        read_session(), viewer.id if viewer else None, before=before, author_id=author.id
    )
    return await render_template("journal/profile.html", author=author, page=page, before=before)
