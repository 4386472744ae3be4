"""``GET /tags/<tag>``: the entries with a tag that the viewer may read."""

from __future__ import annotations

from quart import Blueprint, abort, render_template

from quartapp.accounts.auth import current_account
from quartapp.journal import store
from quartapp.journal.routes import page_cursor
from quartapp.services import read_session, services
from quartapp.tags.parse import normal_tag

blueprint = Blueprint("tags", __name__, template_folder="templates")


@blueprint.route("/tags/<tag>")
async def tagged(tag: str) -> str:
    normal = normal_tag(tag)
    if normal is None:
        abort(404)
    viewer = await current_account()
    await services().search_index.up_to_date(read_session())  # the tags of every write
    page = await store.visible_page(
        read_session(), viewer.id if viewer else None, at=page_cursor(), tag=normal
    )
    return await render_template("tags/tagged.html", tag=normal, page=page)
