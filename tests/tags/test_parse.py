"""Tags in an entry's text (quartapp/tags/parse.py)."""

from __future__ import annotations

import pytest

from quartapp.journal.render import render_markdown
from quartapp.tags.parse import TAGS_MAX, normal_tag, tags_in


def tags(markdown: str) -> list[str]:
    return tags_in(render_markdown(markdown))


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("A day by the #sea.", ["sea"]),
        ("#Sea and #sea and #SEA", ["sea"]),  # one tag, whatever its case
        ("#café is not #cafe", ["café", "cafe"]),  # accents stay
        ("#well-being- and #snake_case_", ["well-being", "snake_case"]),
        ("issue #1 and #2024", []),  # no letter: a number, not a tag
        ("#2024-review", ["2024-review"]),
        ("mail a#b, C# and x##y", []),  # inside a word
        ("[a link](/page#part) and https://example.com/#frag", []),
        ("`#code` and\n\n    #indented code", []),
        ("# Heading\n\n#tag at a line's start", ["tag"]),
        ("#" + "x" * 51, []),  # too long to be a tag
        ("#日記 and #дневник", ["日記", "дневник"]),
    ],
)
def test_tags_are_hash_words(markdown: str, expected: list[str]) -> None:
    assert tags(markdown) == expected


def test_an_entry_has_at_most_twenty_tags_the_first_ones() -> None:
    found = tags(" ".join(f"#t{n}x" for n in range(30)))
    assert found == [f"t{n}x" for n in range(TAGS_MAX)]


@pytest.mark.parametrize(
    ("typed", "tag"),
    [("Sea", "sea"), ("-sea-", "sea"), ("123", None), ("", None), ("a b", None), ("a/b", None)],
)
def test_a_tag_typed_in_an_address_or_a_form_is_normalised(typed: str, tag: str | None) -> None:
    assert normal_tag(typed) == tag
