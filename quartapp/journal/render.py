"""Markdown to safe HTML, once, when an entry is written, in a process of its own.

markdown-it-py renders CommonMark with raw HTML turned off, and GitHub's extras: tables
(with their columns' alignment), strikethrough, bare links, task lists (read-only
checkboxes) and footnotes. nh3 then keeps only an allow-list of tags, attributes, classes
and URL schemes, so ``<script>``, event-handler attributes and ``javascript:`` links never
reach a page even if the renderer let one by. Code blocks are left plain, with their
``language-*`` class: highlighting on the server (Pygments) would add a dependency, a
stylesheet and rendering time for what a reader's eye does well enough, and a wrong guess
at a language reads worse than no colour.

Rendering is pure Python and some inputs are slow (20,000 characters of ``![`` take
0.3-0.5 s: every ``[`` scans ahead for its ``]``). On the event loop that stopped every
other request of the worker for as long (``/healthz`` 2.5 ms -> 424 ms with three such
posts), so ``MarkdownRenderer`` renders elsewhere, within a time limit. Nesting is capped
by ``maxNesting``, and an entry's length by its form (``BODY_MAX``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sys
from collections.abc import Sequence
from typing import BinaryIO

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

# Deeper blocks and inlines are left as text: no recursion in the renderer goes deeper.
MAX_NESTING = 20
# An entry's title is a level-2 heading (its card's): its own headings start below it.
HEADING_SHIFT = 2
logger = logging.getLogger(__name__)
_markdown = (
    MarkdownIt(
        "commonmark",
        {"html": False, "linkify": True, "typographer": False, "maxNesting": MAX_NESTING},
    )
    .enable(["table", "strikethrough", "linkify"])
    .use(tasklists_plugin)  # read-only checkboxes
    .use(footnote_plugin)
)


# An image uploaded here (quartapp/uploads/): the only kind an entry shows.
UPLOADED_IMAGE = re.compile(r"/uploads/[A-Za-z0-9_-]{22}\.(?:jpg|png|webp|gif)")


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image uploaded to this site is shown; any other becomes a link to it (the page's
    CSP, img-src 'self', would block it, and it would tell another site who reads)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if UPLOADED_IMAGE.fullmatch(src):
        return f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}" loading="lazy">'
    return f'<a href="{escapeHtml(src)}">{escapeHtml(alt or "image")}</a>'


_markdown.add_render_rule("image", _image)
_ALIGNMENT = re.compile(r"text-align:(left|center|right)")


def _fit_to_the_page(state: StateCore) -> None:
    """Headings one level below the entry's title and further; a table column's alignment
    as a class (the CSP allows no inline style, and the sanitizer keeps none)."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"
        elif token.type in ("th_open", "td_open") and token.attrs:
            found = _ALIGNMENT.fullmatch(str(token.attrs.pop("style", "")))
            if found:
                token.attrSet("class", f"align-{found.group(1)}")


_markdown.core.ruler.push("fit_to_the_page", _fit_to_the_page)

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "img", "input", "li", "ol", "p", "pre", "s", "section", "strong", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "ol": {"start"},
    "li": {"id"},
    "input": {"type", "checked", "disabled"},
    "img": {"src", "alt", "loading"},
    "code": {"class"},
}
# The classes the renderer sets, and no other (a class from an entry could borrow the
# site's own styles); ``code``'s ``language-*`` is kept by its attribute above.
ALLOWED_CLASSES = {
    "th": {"align-left", "align-center", "align-right"},
    "td": {"align-left", "align-center", "align-right"},
    "ul": {"contains-task-list"},
    "li": {"task-list-item", "footnote-item"},
    "input": {"task-list-item-checkbox"},
    "sup": {"footnote-ref"},
    "a": {"footnote-backref"},
    "hr": {"footnotes-sep"},
    "section": {"footnotes"},
    "ol": {"footnotes-list"},
}
# A task's checkbox can only be a disabled checkbox: never a field of the page's forms.
FORCED_VALUES = {"input": {"type": "checkbox", "disabled": "disabled"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Footnotes' ids and links, made unique per entry by ``_document_id`` (never another id:
# an id from an entry could stand in for one of the page's own).
_FOOTNOTE_ID = re.compile(r"fn(?:ref)?-[0-9a-f]{12}-[0-9]+(?::[0-9]+)?")


def _keep_footnote_ids(tag: str, attribute: str, value: str) -> str | None:
    """Footnotes' own ids, and images from this site's uploads only."""
    if attribute == "id":
        return value if _FOOTNOTE_ID.fullmatch(value) else None
    if tag == "img" and attribute == "src":
        return value if UPLOADED_IMAGE.fullmatch(value) else None
    return value


def _document_id(source: str) -> str:
    """Footnote ids unique to this text, the same each time it is rendered (so a preview
    is exactly the entry), and different between entries on one page."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def render_markdown(source: str) -> str:
    return str(
        nh3.clean(
            _markdown.render(source, {"docId": _document_id(source)}),
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            allowed_classes=ALLOWED_CLASSES,
            set_tag_attribute_values=FORCED_VALUES,
            attribute_filter=_keep_footnote_ids,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow noopener noreferrer",
        )
    )


READY = b"ready\n"  # the rendering process's first line, once it can render
STARTUP_TIMEOUT = 60.0  # seconds for it to start: only a broken installation takes this long


class RenderTimeout(Exception):
    """Rendering took longer than ``MarkdownRenderer.timeout``: the entry is refused."""


class RenderFailed(Exception):
    """The rendering process ended or answered nonsense (it is replaced)."""


class MarkdownRenderer:
    """``render_markdown`` in a child process, one entry at a time, within a time limit.

    Not a thread: the renderer is pure Python, and a thread holding the GIL makes the event
    loop wait up to a switch interval (5 ms) each time it takes the GIL back, several times
    a request (measured: ``/healthz`` p99 86 ms with a thread, 2.5 ms idle). A process
    renders on another core and can be stopped: one that runs past ``timeout`` is killed
    and replaced, and the writer is told to simplify the entry. A plain subprocess, not
    ``multiprocessing``: hypercorn's workers are daemonic processes, which may not have
    ``multiprocessing`` children.
    """

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._process: asyncio.subprocess.Process | None = None
        self._turn = asyncio.Lock()  # one render at a time: the time limit is its own

    async def start(self) -> None:
        """Start the process if it is not running (the first entry waits ~0.15 s for it),
        and wait until it has imported what it renders with: the time limit is for
        rendering, not for a start-up on a busy machine."""
        if self._process is None or self._process.returncode is not None:
            self._process = process = await asyncio.create_subprocess_exec(
                # This file alone, not the quartapp package (which imports the whole app:
                # 0.8 s instead of 0.15 s); -P keeps this folder's modules off sys.path.
                sys.executable,
                "-P",
                __file__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                # A session of its own: a SIGTERM to the server's process group (systemd,
                # Ctrl-C) must not end it while the server finishes its requests. It ends
                # when the server closes the pipe (or dies) or kills it.
                start_new_session=True,
            )
            assert process.stdout is not None
            try:
                async with asyncio.timeout(STARTUP_TIMEOUT):
                    ready = await process.stdout.readline()
            except TimeoutError:
                ready = b""
            if ready != READY:
                await self.close()
                raise RenderFailed()

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def render(self, source: str) -> str:
        async with self._turn:
            try:
                return await self._render(source)
            except RenderFailed:  # the process had ended meanwhile (killed?): once more
                return await self._render(source)

    async def _render(self, source: str) -> str:
        await self.start()
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            async with asyncio.timeout(self.timeout):
                _write_frame(process.stdin, source)
                await process.stdin.drain()
                return await _read_frame(process.stdout)
        except TimeoutError:
            logger.warning("a Markdown render ran past %.1f s; process replaced", self.timeout)
            await self.close()
            raise RenderTimeout() from None
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            logger.error("the Markdown process failed (%s); replaced", type(error).__name__)
            await self.close()
            raise RenderFailed() from None


# Frames between the server and its rendering process: the UTF-8 length in ASCII digits and
# a newline, then the text.
def _write_frame(stream: asyncio.StreamWriter, text: str) -> None:
    data = text.encode()
    stream.write(b"%d\n" % len(data) + data)


async def _read_frame(stream: asyncio.StreamReader) -> str:
    size = int(await stream.readline())  # ValueError on EOF or garbage
    return (await stream.readexactly(size)).decode()


def _serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The rendering process: one frame in, its HTML out, until the server hangs up."""
    while line := stdin.readline():
        source = stdin.read(int(line)).decode()
        html = render_markdown(source).encode()
        stdout.write(b"%d\n" % len(html) + html)
        stdout.flush()


def serve_stdio() -> None:
    """The rendering process's main (see ``MarkdownRenderer.start``)."""
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    _serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    serve_stdio()
