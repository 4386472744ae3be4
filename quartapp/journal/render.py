"""Markdown to safe HTML, once, when an entry is written, in a process of its own.

markdown-it-py renders CommonMark with raw HTML turned off; nh3 then keeps only an
allow-list of tags, attributes and URL schemes, so ``<script>``, event-handler
attributes and ``javascript:`` links never reach a page even if the renderer let one by.

Rendering is pure Python and some inputs are slow (20,000 characters of ``![`` take
0.3-0.5 s: every ``[`` scans ahead for its ``]``). On the event loop that stopped every
other request of the worker for as long (``/healthz`` 2.5 ms -> 424 ms with three such
posts), so ``MarkdownRenderer`` renders elsewhere, within a time limit. Nesting is capped
by ``maxNesting``, and an entry's length by its form (``BODY_MAX``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import BinaryIO

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Deeper blocks and inlines are left as text: no recursion in the renderer goes deeper.
MAX_NESTING = 20
logger = logging.getLogger(__name__)
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
        """Start the process if it is not running (the first entry waits ~0.2 s for it),
        and wait until it has imported what it renders with: the time limit is for
        rendering, not for a start-up on a busy machine."""
        if self._process is None or self._process.returncode is not None:
            self._process = process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                f"from {__name__} import serve_stdio; serve_stdio()",
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
