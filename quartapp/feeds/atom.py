"""Atom 1.0 documents (RFC 4287) of entries: a pure builder on ElementTree, which escapes
every text and attribute, so an entry's HTML goes in as text of a ``type="html"`` content,
as the format wants it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

from quartapp.search.text import plain_text

ATOM = "http://www.w3.org/2005/Atom"
ElementTree.register_namespace("", ATOM)
TITLE_WORDS = 10  # an untitled entry's title: its first words
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # an empty feed's <updated>: it never changed


@dataclass(frozen=True)
class FeedEntry:
    id: int
    title: str
    body_html: str
    author: str
    written_at: datetime
    updated_at: datetime | None


@dataclass(frozen=True)
class Feed:
    title: str
    self_url: str  # where the feed is
    page_url: str  # the page it follows
    base_url: str  # the site's address, no trailing "/": entries' links start with it
    entries: Sequence[FeedEntry]


def _element(
    parent: ElementTree.Element, name: str, text: str | None = None, **attrs: str
) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_of(entry: FeedEntry) -> datetime:
    return entry.updated_at or entry.written_at


def entry_title(entry: FeedEntry) -> str:
    if entry.title:
        return entry.title
    words = plain_text(entry.body_html).split()
    shown = " ".join(words[:TITLE_WORDS])
    return shown + ("…" if len(words) > TITLE_WORDS else "") if shown else "Untitled entry"


def atom_document(feed: Feed) -> bytes:
    root = ElementTree.Element(f"{{{ATOM}}}feed")
    _element(root, "id", feed.self_url)
    _element(root, "title", feed.title)
    newest = max((updated_of(entry) for entry in feed.entries), default=NEVER)
    _element(root, "updated", _stamp(newest))
    _element(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    _element(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _element(root, "generator", "quartapp")
    for entry in feed.entries:
        url = f"{feed.base_url}/entries/{entry.id}"
        item = _element(root, "entry")
        _element(item, "id", url)
        _element(item, "title", entry_title(entry))
        _element(item, "published", _stamp(entry.written_at))
        _element(item, "updated", _stamp(updated_of(entry)))
        author = _element(item, "author")
        _element(author, "name", entry.author)
        _element(author, "uri", f"{feed.base_url}/u/{entry.author}")
        _element(item, "link", rel="alternate", type="text/html", href=url)
        # Relative addresses in the HTML (uploaded images) are read against the site.
        content = _element(item, "content", entry.body_html, type="html")
        content.set("{http://www.w3.org/XML/1998/namespace}base", f"{feed.base_url}/")
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
