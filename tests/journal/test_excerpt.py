"""Excerpts of long entries on lists (quartapp/journal/excerpt.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from quart.typing import TestClientProtocol as Client

from quartapp.journal.excerpt import EXCERPT_TEXT, WHOLE_TEXT, excerpt
from quartapp.journal.render import render_markdown
from tests.helpers import AuthActions, page_text
from tests.test_security import checked_page


def paragraphs(count: int, words: int = 40) -> str:
    return "\n\n".join(f"Paragraph {n} " + "word " * words for n in range(count))


class Balance(HTMLParser):
    """Checks every element that opens also closes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in {"br", "hr", "img", "input"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag


def balanced(html: str) -> bool:
    checker = Balance()
    checker.feed(html)
    checker.close()
    return checker.open == []


def test_a_short_entry_is_shown_whole() -> None:
    assert excerpt(render_markdown("A short day.")) is None
    assert excerpt(render_markdown(paragraphs(4, words=20))) is None  # under the limits


@pytest.mark.parametrize(
    "markdown",
    [
        paragraphs(12),
        "# A heading\n\n" + paragraphs(3) + "\n\n- one\n- two\n\n```\ncode\n```\n\n"
        + paragraphs(9),
        "> " + "\n>\n> ".join(f"quoted {n} " + "word " * 30 for n in range(3)) + "\n\n"
        + paragraphs(10),
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n" + paragraphs(10) + "\n\n---\n\nthe end",
    ],
)  # fmt: skip
def test_a_long_entry_is_cut_after_a_whole_block(markdown: str) -> None:
    body = render_markdown(markdown)
    cut = excerpt(body)
    assert cut is not None
    assert body.startswith(cut)  # the writer's HTML as it is, up to the cut
    assert body[len(cut) :].startswith("\n<")  # between two blocks
    assert balanced(cut)
    text = re.sub(r"<[^>]+>", "", cut)
    assert len(text) <= EXCERPT_TEXT or cut.count("</") <= 3  # the first block may be long


def test_a_first_block_too_long_for_a_list_is_cut_at_a_word() -> None:
    body = render_markdown("**Bold** <b>&amp;</b> " + "longword " * 500)
    cut = excerpt(body)
    assert cut is not None
    assert cut.startswith("<p>Bold &lt;b&gt;&amp;&lt;/b&gt; longword")  # its text, escaped
    assert cut.endswith(" longword…</p>")
    assert len(cut) < EXCERPT_TEXT + 100


def test_an_image_weighs_like_text() -> None:
    image = "![a view](/uploads/abcdefghijklmnopqrstuv.jpg)"
    body = render_markdown(
        "\n\n".join(f"{image}\n\nday {n}" for n in range(8)) + "\n\n" + "x " * WHOLE_TEXT
    )
    cut = excerpt(body)
    assert cut is not None
    assert cut.count("<img") <= 2


async def test_lists_show_the_excerpt_and_the_entry_page_the_whole(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    body = paragraphs(12) + "\n\nThe last line, #tagged."
    entry_id = await auth.post_entry(body, title="Long day", visibility="public")
    for path in ("/", "/u/alice", "/tags/tagged"):
        listed = await checked_page(await client.get(path))
        assert "Paragraph 1 word" in listed
        assert "Paragraph 11" not in listed
        assert "The last line" not in listed
        assert f'<a href="/entries/{entry_id}">Read more' in listed
        assert 'href="/tags/tagged">#tagged</a>' in listed  # the whole entry's tags
    whole = await page_text(await client.get(f"/entries/{entry_id}"))
    assert "Paragraph 11" in whole
    assert "The last line" in whole
    assert "Read more" not in whole
