"""``POST /uploads`` takes an image from the compose box (a script's drop, paste or file
choice, or a plain file field without one) and answers where it is and the Markdown that
shows it; ``GET /uploads/<name>`` serves it to whoever may read an entry that shows it,
and to its owner; to anyone else it does not exist (404)."""

from __future__ import annotations

import asyncio
import logging
import re

from quart import Blueprint, Response, abort, flash, request
from quart_auth import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from quartapp.accounts.auth import current_account, require_account
from quartapp.models import utcnow
from quartapp.ratelimits import Limit, rate_limited
from quartapp.security.bodies import accepts_body
from quartapp.security.redirects import referring_page
from quartapp.services import read_session, services, transaction
from quartapp.uploads import images, store
from quartapp.uploads.storage import new_name
from quartapp.web import json_answer, see_other_path

blueprint = Blueprint("uploads", __name__)
logger = logging.getLogger(__name__)
MIB = 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # the multipart framing and the token around the file
_NAME = re.compile(r"[A-Za-z0-9_-]{22}\.(?:jpg|png|webp|gif)")
_ALT_UNSAFE = re.compile(r"[\[\]\\\n\r<>]+")


def _max_bytes() -> int:
    return services().settings.upload_max_mb * MIB


def _too_large() -> str:
    return f"Images are at most {services().settings.upload_max_mb} MiB each."


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


async def _refused(message: str, status: int = 400) -> Response:
    """A refusal: JSON for the page's script; without one, back to the page with it."""
    if _wants_json():
        return json_answer({"error": message}, status)
    await flash(message, "error")
    return see_other_path(_back())


def _back() -> str:
    """The page the form was on, when it was on this site; else the home page."""
    return referring_page(request.referrer, request.host) or "/"


def alt_text(filename: str) -> str:
    """The file's name without its extension, as the image's description to start from."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    return _ALT_UNSAFE.sub(" ", stem).strip()[:100] or "image"


@blueprint.route("/uploads", methods=["POST"])
@accepts_body(lambda: _max_bytes() + FORM_OVERHEAD, lambda: _too_large())
@rate_limited(Limit.WRITES)
@login_required
async def upload() -> Response:
    user = await require_account()
    try:
        files = await request.files
    except RequestEntityTooLarge:
        return await _refused(_too_large(), 413)
    chosen = files.get("file")
    if chosen is None or not chosen.filename:
        return await _refused("Choose an image file to upload (the form field 'file').")
    data = chosen.read(_max_bytes() + 1)
    if len(data) > _max_bytes():
        return await _refused(_too_large(), 413)
    try:
        image = await asyncio.to_thread(images.clean, data)
    except images.ImageRefused as error:
        return await _refused(str(error))
    name = new_name(image.extension)
    storage = services().images
    await storage.put(name, image.data)
    quota = services().settings.upload_quota_mb
    try:
        async with transaction() as session:
            await store.add(
                session,
                user.id,
                name=name,
                content_type=image.content_type,
                size=len(image.data),
                width=image.width,
                height=image.height,
                quota=quota * MIB,
                now=utcnow(),
            )
    except store.QuotaExceeded as full:
        await storage.delete([name])
        return await _refused(
            f"Your images take {full.used / MIB:.1f} MiB of the {quota} MiB an account may "
            "keep. Delete entries' images you no longer need, or ask the site's operator.",
            413,
        )
    except BaseException:
        await storage.delete([name])
        raise
    url = f"{store.PATH_PREFIX}{name}"
    markdown = f"![{alt_text(chosen.filename)}]({url})"
    logger.info("image uploaded user_id=%s size=%s", user.id, len(image.data))
    if _wants_json():
        return json_answer(
            {"url": url, "markdown": markdown, "width": image.width, "height": image.height}
        )
    await flash(f"Image uploaded. Put this in your entry where it goes: {markdown}", "success")
    return see_other_path(_back())


@blueprint.route("/uploads/<name>")
async def show(name: str) -> Response:
    if not _NAME.fullmatch(name):
        abort(404)
    found = await store.by_name(read_session(), name)
    if found is None:
        abort(404)
    viewer = await current_account()
    public = await store.shown_publicly(read_session(), found.id)
    if not public and (viewer is None or viewer.id != found.user_id):
        abort(404)  # shown only in private entries, or in none yet: its owner's alone
    data = await services().images.read(name)
    if data is None:
        logger.error("uploaded image %s is missing from storage", found.id)
        abort(404)
    response = Response(data, mimetype=found.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    # Names are random and an image never changes: a public one may be kept for a year.
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if public else "private, no-store"
    )
    return response
