"""A long entry's beginning, for the cards of lists. A pure function of its HTML.

The cut falls between two of the body's top-level blocks (paragraphs, lists, headings,
code blocks, tables), never inside one, so the excerpt is well-formed HTML as the sanitizer
left it and reads as the writer wrote it. Only a first block too long to show whole on a
list is cut inside: as its text alone, at a word, with an ellipsis.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

# A body is shown whole up to about this much text (or this many blocks): cutting a
# little would only add a click.
WHOLE_TEXT = 1200
WHOLE_BLOCKS = 8
# An excerpt keeps blocks while it has less text than this (at least the first block).
EXCERPT_TEXT = 600
EXCERPT_BLOCKS = 5
IMAGE_TEXT = 300  # what an image weighs against text: a list shows few of them
FIRST_BLOCK_MAX = 3 * EXCERPT_TEXT  # beyond it, even the first block is cut

_VOID = frozenset(
    {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_SPACE = re.compile(r"\s+")


class _Blocks(HTMLParser):
    """The top-level blocks of a body: where each ends, and the text and images up to it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for match in re.finditer("\n", html):
            self._line_starts.append(match.end())
        self.depth = 0
        self.weight = 0  # text characters, and IMAGE_TEXT an image, so far
        self.first_text: list[str] = []  # the first block's text, should it be cut
        self.blocks: list[tuple[int, int]] = []  # (end offset, weight up to it)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.weight += IMAGE_TEXT
        if tag in _VOID:
            if self.depth == 0:  # a top-level <hr>: a block of its own
                self.blocks.append((self._offset() + len(self.get_starttag_text() or ""), 0))
            return
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        self.depth = max(self.depth - 1, 0)
        if self.depth == 0:
            end = self._offset() + len(f"</{tag}>")
            self.blocks.append((end, self.weight))

    def handle_data(self, data: str) -> None:
        text = _SPACE.sub(" ", data)
        if text.strip():
            self.weight += len(text)
            if not self.blocks:
                self.first_text.append(text)


def excerpt(body_html: str) -> str | None:
    """The beginning of a long body, cut after a block; None when the body is short
    enough to show whole."""
    if len(body_html) <= WHOLE_TEXT:  # the text is shorter than its HTML
        return None
    parser = _Blocks(body_html)
    parser.feed(body_html)
    parser.close()
    blocks = parser.blocks
    if parser.weight <= WHOLE_TEXT and len(blocks) <= WHOLE_BLOCKS:
        return None
    first_end, first_weight = blocks[0] if blocks else (len(body_html), parser.weight)
    if first_weight > FIRST_BLOCK_MAX:
        return _cut_text("".join(parser.first_text))
    kept = first_end
    for count, (end, weight) in enumerate(blocks[1:], start=2):
        if weight > EXCERPT_TEXT or count > EXCERPT_BLOCKS:
            break
        kept = end
    if kept >= len(body_html.rstrip()):
        return None  # nothing left out after all
    return body_html[:kept]


def _cut_text(text: str) -> str:
    """About the first ``EXCERPT_TEXT`` characters of ``text``, ending at a word, as a
    paragraph."""
    cut = text.strip()[:EXCERPT_TEXT]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return f"<p>{escape(cut.rstrip(' ,;:.-'))}…</p>"
