"""Atom feeds of public entries: the site's, a writer's and a tag's. Public entries only,
whoever asks (a feed reader shares what it fetches), answered 304 when unchanged."""

from __future__ import annotations

import hashlib
from typing import Any

from quart import Blueprint, Response, abort, request, url_for

from quartapp.accounts import store as accounts
from quartapp.feeds.atom import Feed, FeedEntry, atom_document, updated_of
from quartapp.journal import store
from quartapp.services import read_session, services
from quartapp.tags.parse import normal_tag

blueprint = Blueprint("feeds", __name__)
FEED_SIZE = 50  # the newest entries a feed holds


@blueprint.route("/feed.atom")
async def site() -> Response:
    return await _feed("quartapp: newest entries", "journal.index", {})


@blueprint.route("/u/<username>/feed.atom")
async def writer(username: str) -> Response:
    author = await accounts.get_user_by_username(read_session(), username)
    if author is None:
        abort(404)
    return await _feed(
        f"{author.username} on quartapp",
        "journal.profile",
        {"username": author.username},
        author_id=author.id,
    )


@blueprint.route("/tags/<tag>/feed.atom")
async def tagged(tag: str) -> Response:
    normal = normal_tag(tag)
    if normal is None:
        abort(404)
    await services().search_index.up_to_date(read_session())  # the tags of every write
    return await _feed(f"#{normal} on quartapp", "tags.tagged", {"tag": normal}, tag=normal)


async def _feed(
    title: str,
    page_endpoint: str,
    page_values: dict[str, Any],
    *,
    author_id: int | None = None,
    tag: str | None = None,
) -> Response:
    page = await store.visible_page(
        read_session(), None, author_id=author_id, tag=tag, page_size=FEED_SIZE
    )
    base = services().settings.site_url or request.host_url.rstrip("/")
    entries = [
        FeedEntry(e.id, e.title, e.body_html, e.author.username, e.written_at, e.updated_at)
        for e in page.entries
    ]
    document = atom_document(
        Feed(
            title=title,
            self_url=base + request.path,
            page_url=base + url_for(page_endpoint, **page_values),
            base_url=base,
            entries=entries,
        )
    )
    response = Response(document, mimetype="application/atom+xml")
    response.set_etag(hashlib.sha256(document).hexdigest()[:32])
    if entries:
        response.last_modified = max(updated_of(entry) for entry in entries)
    # Readers ask again often: they may keep it, and must check it is still current.
    response.headers["Cache-Control"] = "public, no-cache"
    return await response.make_conditional(request)
