"""Entry cards, rendered once for each content and kept, so a page only joins them.

Twenty cards through Jinja's macro took a millisecond a page, more than the page's queries.
A card is a pure function of what it shows, so the cache key is all of that (the body's
HTML included): an edited, renamed or re-published entry simply has another key, and no
write ever needs to invalidate anything. Each worker keeps the most recently used cards.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from markupsafe import Markup
from quart import Quart, current_app

from quartapp.journal.store import ListedEntry
from quartapp.models import Entry, User

CARD_TEMPLATE = "journal/_card.html"
CARDS_KEPT = 1024  # about 3 KiB each with its key: a few MiB a worker

CardKey = tuple[int, str, str, datetime, datetime | None, str, str, bool, bool]


class EntryCards:
    def __init__(self, size: int = CARDS_KEPT) -> None:
        self.size = size
        self._cards: OrderedDict[CardKey, Markup] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cards)

    async def card(
        self, entry: Entry | ListedEntry, viewer: User | None, link_title: bool = True
    ) -> Markup:
        """The card of ``entry`` as ``viewer`` sees it (its author gets an Edit link)."""
        key: CardKey = (
            entry.id,
            entry.title,
            entry.body_html,
            entry.created_at,
            entry.updated_at,
            entry.visibility,
            entry.author.username,
            viewer is not None and viewer.id == entry.author_id,
            link_title,
        )
        html = self._cards.get(key)
        if html is not None:
            self._cards.move_to_end(key)
            return html
        template = current_app.jinja_env.get_template(CARD_TEMPLATE)
        rendered = await template.render_async(entry=entry, viewer=viewer, link_title=link_title)
        html = Markup(rendered)  # noqa: S704 - the output of an autoescaped template
        self._cards[key] = html
        if len(self._cards) > self.size:
            self._cards.popitem(last=False)
        return html


def init_app(app: Quart) -> EntryCards:
    cards = EntryCards()
    app.extensions["entry_cards"] = cards
    app.jinja_env.globals["card"] = cards.card
    return cards
