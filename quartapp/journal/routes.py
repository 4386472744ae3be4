"""Home page, entries and profiles."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date
from typing import cast

from markupsafe import Markup
from quart import Blueprint, Response, abort, flash, render_template, request, url_for
from quart import session as cookie_session
from quart_auth import login_required

from quartapp.accounts import store as accounts
from quartapp.accounts.auth import current_account, require_account
from quartapp.follows import store as follows
from quartapp.forms import posted_form
from quartapp.journal import drafts, store
from quartapp.journal.forms import EntryForm
from quartapp.journal.kept import VisitorHome
from quartapp.journal.render import RenderFailed, RenderTimeout
from quartapp.journal.store import EntryContent
from quartapp.memories import calendar
from quartapp.memories import store as memories
from quartapp.memories.routes import ids_on_this_day
from quartapp.models import Draft, Entry, User, utcnow
from quartapp.ratelimits import Limit, rate_limited, refusal
from quartapp.services import read_session, services, transaction
from quartapp.tags.store import tag_counts
from quartapp.web import HtmlAnswer, as_id, see_other

blueprint = Blueprint("journal", __name__, template_folder="templates")
# In the cookie session after a box was posted: its key, for the next page (see _posted).
_POSTED_DRAFT = "posted_draft"
COMPOSE_SUBMIT = "Post entry"  # the compose form's button


def page_cursor() -> store.Cursor:
    """The list's ``before`` or ``after``: a positive whole number, or a 400 naming it."""
    found = {}
    for name in ("before", "after"):
        raw = request.args.get(name)
        if raw is None or raw == "":
            continue
        if (value := as_id(raw)) is None:
            abort(400, f"The '{name}' parameter must be a positive entry number.")
        found[name] = value
    if len(found) > 1:
        abort(400, "A page is either 'before' an entry or 'after' one, not both.")
    return store.Cursor(**found)


async def entry_content(form: EntryForm) -> EntryContent | None:
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
    entry, _ = await _visible_entry_and_newest_change(entry_id, check_author=check_author)
    return entry


async def _visible_entry_and_newest_change(
    entry_id: int, *, check_author: bool = False
) -> tuple[Entry, int]:
    viewer = await current_account()
    entry, newest_change = await store.get_entry_and_newest_change(read_session(), entry_id)
    is_author = entry is not None and viewer is not None and entry.author_id == viewer.id
    if entry is None or (not entry.is_public and not is_author):
        abort(404)
    if check_author and not is_author:
        abort(403)
    return entry, newest_change


async def _blank_compose_form(visibility: str) -> Markup:
    """An untouched compose form after its token, rendered once per app for each default
    visibility: WTForms' widgets were a tenth of a signed-in home page's time, and the
    form's links another 0.1 ms, and it is the same for every writer with the same default."""
    kept = services().kept_pages
    if visibility not in kept.blank_compose_forms:
        html = await render_template(
            "journal/_entry_form_inside.html",
            form=EntryForm(data={"visibility": visibility}),
            draft_key=drafts.COMPOSE,
            opened_draft=None,
            submit_label=COMPOSE_SUBMIT,
            cancel_url=None,
        )
        kept.blank_compose_forms[visibility] = Markup(html)  # noqa: S704 - autoescaped
    return kept.blank_compose_forms[visibility]


async def _home_page(
    viewer: User | None, form: EntryForm | None, status: int = 200
) -> tuple[str, int]:
    """The home page; for a writer with ``form`` None, a blank compose form."""
    html, _ = await _render_home(viewer, form, page_cursor())
    return html, status


async def _render_home(
    viewer: User | None,
    form: EntryForm | None,
    cursor: store.Cursor,
    draft: Draft | None = None,
) -> tuple[str, int]:
    """The page's HTML, and the newest change it includes (its live seq)."""
    page = await store.visible_page(read_session(), viewer.id if viewer else None, at=cursor)
    blank_form = (
        await _blank_compose_form(viewer.default_visibility)
        if viewer is not None and form is None
        else None
    )
    # A writer's first page offers what they wrote on this day in earlier years.
    memories_today = await _memories_today(viewer, page.live_seq) if page.first else 0
    html = await render_template(
        "journal/index.html",
        memories_today=memories_today,
        page=page,
        form=form,
        blank_form=blank_form,
        submit_label=COMPOSE_SUBMIT,
        draft_key=drafts.COMPOSE,
        opened_draft=draft,
    )
    return html, page.live_seq


async def _memories_today(viewer: User | None, live_seq: int) -> int:
    """How many entries the writer wrote on their today in earlier years. Counted once and
    kept while nothing was written anywhere (every write records an event, and the page
    just read the newest): the query was a tenth of a signed-in home page."""
    if viewer is None:
        return 0
    kept = services().kept_pages
    today = calendar.local_day(utcnow(), calendar.zone_of(viewer.time_zone))
    count = kept.kept_memories(viewer.id, today, live_seq)
    if count is None:
        count = len(await ids_on_this_day(viewer))
        kept.keep_memories(viewer.id, today, live_seq, count)
    return count


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
    html, live_seq = await _render_home(None, None, store.NEWEST)
    kept.visitor_home = VisitorHome(live_seq, html)
    return html


def _form_of_draft(draft: Draft, default_visibility: str) -> EntryForm:
    return EntryForm(
        data={
            "title": draft.title,
            "body": draft.body,
            "visibility": draft.visibility or default_visibility,
            "written_at": draft.written_at,
            "time_zone": draft.time_zone,
        }
    )


async def _opened_draft(viewer: User | None, key: str) -> Draft | None:
    """The writer's draft of box ``key`` when the page was asked for with it (``?draft=1``,
    from the list of drafts)."""
    if viewer is None or request.args.get("draft") != "1":
        return None
    return await drafts.get(read_session(), viewer.id, key)


def _posted(key: str) -> None:
    """Tell the next page that this box's draft is posted, so the browser forgets its copy."""
    cookie_session[_POSTED_DRAFT] = key


@blueprint.route("/")
async def index() -> tuple[str, int]:
    viewer = await current_account()
    cursor = page_cursor()
    if viewer is None and cursor == store.NEWEST and "_flashes" not in cookie_session:
        return await _visitor_home(), 200
    if (draft := await _opened_draft(viewer, drafts.COMPOSE)) is not None:
        assert viewer is not None
        form = _form_of_draft(draft, viewer.default_visibility)
        html, _ = await _render_home(viewer, form, cursor, draft=draft)
        return html, 200
    # No form object: a visitor sees none, a writer a blank one (building one was 3% of a page).
    html, _ = await _render_home(viewer, None, cursor)
    return html, 200


@blueprint.route("/entries", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def create() -> HtmlAnswer | Response:
    viewer = await require_account()
    form = await posted_form(EntryForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _home_page(viewer, form, status=refused.status)
    if not form.validate() or (content := await entry_content(form)) is None:
        return await _home_page(viewer, form, status=400)
    async with transaction() as session:
        entry = await store.create_entry(session, viewer.id, content)
        await drafts.discard(session, viewer.id, drafts.COMPOSE)
        zone = form.known_time_zone()
        if zone is not None and zone != viewer.time_zone:  # their days, for the archive
            await accounts.set_time_zone(session, viewer.id, zone)
    _posted(drafts.COMPOSE)
    await flash("Your entry is posted.", "success")
    return see_other("journal.show", entry_id=entry.id)


@blueprint.route("/entries/<id:entry_id>")
async def show(entry_id: int) -> str:
    entry, newest_change = await _visible_entry_and_newest_change(entry_id)
    posted = cookie_session.pop(_POSTED_DRAFT, None)
    return await render_template(
        "journal/entry.html",
        entry=entry,
        posted_draft=posted if isinstance(posted, str) else None,
        live_seq=newest_change,  # read with the entry: later changes are replayed
    )


@blueprint.route("/entries/<id:entry_id>/edit", methods=["GET", "POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def edit(entry_id: int) -> HtmlAnswer | Response:
    entry = await get_visible_entry(entry_id, check_author=True)
    key = drafts.entry_key(entry.id)
    if request.method == "GET":
        draft = await _opened_draft(await current_account(), key)
        form = (
            _form_of_draft(draft, entry.visibility) if draft is not None else EntryForm(obj=entry)
        )
        # In UTC, without a zone: the page shows it in the writer's (static/time.js).
        form.written_at.data = entry.written_at.strftime("%Y-%m-%dT%H:%M")
        form.time_zone.data = ""
        return await _edit_page(entry, form, opened_draft=draft)
    form = await posted_form(EntryForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _edit_page(entry, form, status=refused.status)
    if not form.validate() or (content := await entry_content(form)) is None:
        return await _edit_page(entry, form, status=400)
    if content.written_at == entry.written_at.replace(second=0, microsecond=0):
        content = dataclasses.replace(content, written_at=None)  # shown to the minute: kept
    async with transaction() as session:
        await store.update_entry(session, entry.id, content)
        await drafts.discard(session, entry.author_id, key)
    _posted(key)
    await flash("Your changes are saved.", "success")
    return see_other("journal.show", entry_id=entry.id)


async def _edit_page(
    entry: Entry, form: EntryForm, *, status: int = 200, opened_draft: Draft | None = None
) -> tuple[str, int]:
    page = await render_template(
        "journal/edit.html",
        entry=entry,
        form=form,
        draft_key=drafts.entry_key(entry.id),
        opened_draft=opened_draft,
    )
    return page, status


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
    page = await store.visible_page(
        read_session(), viewer.id if viewer else None, at=page_cursor(), author_id=author.id
    )
    is_author = viewer is not None and viewer.id == author.id
    await services().search_index.up_to_date(read_session())  # the tags of every write
    tags = await tag_counts(read_session(), author.id, with_private=is_author)
    heatmap = await _year_of_writing(author, with_private=is_author)
    return await render_template(
        "journal/profile.html",
        author=author,
        page=page,
        tags=tags,
        follows=await follows.counts(read_session(), author.id, viewer.id if viewer else None),
        heatmap=heatmap,
    )


async def _year_of_writing(author: User, *, with_private: bool) -> Markup | None:
    """The heatmap of the writer's last year, by their days; None before a first entry."""
    zone = calendar.zone_of(author.time_zone)
    moments = await memories.written_moments(read_session(), author.id, with_private=with_private)
    if not moments:
        return None
    counts = Counter(calendar.local_day(moment, zone) for _, moment in moments)

    def day_link(day: date) -> str:
        return url_for(
            "memories.month", username=author.username, year=day.year, month=day.month,
            day=day.day,
        )  # fmt: skip

    return calendar.heatmap_svg(counts, calendar.local_day(utcnow(), zone), day_link)
