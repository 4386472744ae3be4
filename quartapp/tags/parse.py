"""Tags: the ``#words`` of an entry's text. Pure functions.

A tag is ``#`` then letters, digits, ``_`` and ``-``, with at least one letter (``#1`` in
"issue #1" is not a tag), not inside a word, a link's address (``/page#part``) or code.
Tags compare case-insensitively: each is kept case folded, so ``#Sea`` and ``#sea`` are one
tag, and accents stay (``#café`` is not ``#cafe``). An entry has at most ``TAGS_MAX``:
the first ones, in the order they come.
"""

from __future__ import annotations

import re

from quartapp.search.text import reading

TAGS_MAX = 20
TAG_MAX = 50  # characters; a longer "#..." is not a tag
# Not after a letter, a digit, "_", "&" (an entity) or "/" (an address): "#" opens a tag.
_TAG = re.compile(r"(?<![\w&/#])#([\w-]+)")
TAG_SHAPE = re.compile(r"[\w-]{1,50}")  # a tag in an address: /tags/<tag>


def tags_in(body_html: str) -> list[str]:
    """The tags of an entry with this HTML (see ``tags_in_prose``)."""
    return tags_in_prose(reading(body_html).prose)


def tags_in_prose(prose: str) -> list[str]:
    """The tags in an entry's text outside code, case folded, the first ``TAGS_MAX`` in
    order, each once."""
    found: list[str] = []
    for match in _TAG.finditer(prose):
        tag = normal_tag(match.group(1))
        if tag is not None and tag not in found:
            found.append(tag)
            if len(found) == TAGS_MAX:
                break
    return found


def normal_tag(text: str) -> str | None:
    """``text`` as a tag is kept (case folded, no "-" or "_" at its ends), or None when it
    cannot be one."""
    tag = text.strip("-_").casefold()
    if not tag or len(tag) > TAG_MAX or not any(char.isalpha() for char in tag):
        return None
    if not TAG_SHAPE.fullmatch(tag):
        return None
    return tag
