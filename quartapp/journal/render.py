"""Markdown to safe HTML, once, when an entry is written, off the event loop.

markdown-it-py renders CommonMark with raw HTML turned off; nh3 then keeps only an
allow-list of tags, attributes and URL schemes, so ``<script>``, event-handler
attributes and ``javascript:`` links never reach a page even if the renderer let one by.

Rendering is pure Python and some inputs are slow (20,000 characters of ``![`` take
0.3-0.5 s: every ``[`` scans ahead for its ``]``). On the event loop that stopped every
other request of the worker for as long (``/healthz`` 2.5 ms -> 424 ms with three such
posts); in one thread of its own, the loop gets the interpreter back at each switch
interval (5 ms), so other requests wait milliseconds (docs/PERFORMANCE.md). Nesting is
capped by ``maxNesting``, and an entry's length by its form (``BODY_MAX``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Deeper blocks and inlines are left as text: no recursion in the renderer goes deeper.
MAX_NESTING = 20
_markdown = (
    MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING},
    )
    .enable("table")
    .enable("strikethrough")
)


def _image_as_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Images become links: the page's CSP (img-src 'self') would block them anyway."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{escapeHtml(str(token.attrGet("src") or ""))}">{escapeHtml(alt)}</a>'


_markdown.add_render_rule("image", _image_as_link)

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(source: str) -> str:
    return str(
        nh3.clean(
            _markdown.render(source),
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow noopener noreferrer",
        )
    )


_render_thread: ThreadPoolExecutor | None = None
_render_thread_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One thread per process, made on first use: entries render one at a time, so a
    burst of posts cannot take more than one core from the requests."""
    global _render_thread
    with _render_thread_lock:
        if _render_thread is None:
            _render_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="markdown")
        return _render_thread


async def render_markdown_off_loop(source: str) -> str:
    """``render_markdown`` in the rendering thread, leaving the event loop free."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), render_markdown, source)
