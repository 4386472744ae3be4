"""Entry cards, rendered once for each content and kept, so a page only joins them.

Twenty cards through Jinja took a millisecond a page, more than the page's queries. A card
is a pure function of what it shows, so the cache key is all of that (the body's HTML
included): an edited, renamed or re-published entry simply has another key, and no write
ever needs to invalidate anything. Each worker keeps the most recently used cards.

Pages and live updates share the cards and the cache. A card needs no request: its links
are paths built from the app's URL map.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup
from werkzeug.routing import Map, MapAdapter

from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.excerpt import excerpt
from quartapp.journal.store import ListedEntry
from quartapp.live.messages import RenderCards
from quartapp.models import Entry, User
from quartapp.tags.parse import tags_in

CARD_TEMPLATE = "journal/_card.html"
CARDS_KEPT = 1024  # about 3 KiB each with its key: a few MiB a worker

CardKey = tuple[int, str, str, datetime, datetime | None, str, str, bool, bool]


class EntryCards:
    def __init__(self, jinja_env: Environment, url_map: Map, size: int = CARDS_KEPT) -> None:
        self.size = size
        self._jinja_env = jinja_env
        self._url_map = url_map
        self._template: Template | None = None
        self._paths: MapAdapter | None = None
        self._cards: OrderedDict[CardKey, Markup] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cards)

    def path(self, endpoint: str, **values: Any) -> str:
        """The path of a page of this site, as ``url_for`` gives it, with no request."""
        if self._paths is None:
            self._paths = self._url_map.bind("")
        return self._paths.build(endpoint, values)

    async def render(
        self, entry: Entry | ListedEntry, *, by_author: bool, listed: bool = True
    ) -> Markup:
        """The card of ``entry``; its author's has an Edit link. A ``listed`` card (on a
        list, not the entry's own page) links its title, and shows a long body's excerpt."""
        key: CardKey = (
            entry.id,
            entry.title,
            entry.body_html,
            entry.written_at,
            entry.updated_at,
            entry.visibility,
            entry.author.username,
            by_author,
            listed,
        )
        html = self._cards.get(key)
        if html is not None:
            self._cards.move_to_end(key)
            return html
        if self._template is None:
            self._template = self._jinja_env.get_template(CARD_TEMPLATE)
        rendered = await self._template.render_async(
            entry=entry,
            by_author=by_author,
            listed=listed,
            path=self.path,
            excerpt=excerpt,
            tags_in=tags_in,  # from the HTML, which is in the card's key
        )
        html = Markup(rendered.strip())  # noqa: S704 - the output of an autoescaped template
        self._cards[key] = html
        if len(self._cards) > self.size:
            self._cards.popitem(last=False)
        return html

    async def card(
        self, entry: Entry | ListedEntry, viewer: User | None, listed: bool = True
    ) -> Markup:
        """For templates: the card of ``entry`` as ``viewer`` sees it."""
        by_author = viewer is not None and viewer.id == entry.author_id
        return await self.render(entry, by_author=by_author, listed=listed)


def live_cards(database: Database, cards: EntryCards) -> RenderCards:
    """The cards live updates send: the same cards, from the same cache, as the pages."""

    async def render(entry_ids: list[int]) -> dict[int, tuple[str, str]]:
        async with database.reader() as session:
            entries = await store.listed_entries(session, entry_ids)
        return {
            entry.id: (
                str(await cards.render(entry, by_author=False)),
                str(await cards.render(entry, by_author=True)),
            )
            for entry in entries
        }

    return render
