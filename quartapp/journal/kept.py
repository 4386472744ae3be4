"""Pages, or parts of them, that are the same for everyone and rendered once per worker.

Each is kept with what it depends on, and the routes check that before using it
(``journal/routes.py``): nothing here is ever stale by time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date

from markupsafe import Markup

MEMORIES_KEPT = 10_000  # writers' "on this day" counts a worker keeps (a few bytes each)


@dataclass(frozen=True, slots=True)
class VisitorHome:
    """The home page as every visitor sees it."""

    live_seq: int  # the newest change the page includes
    html: str


@dataclass(slots=True)
class KeptPages:
    # An untouched compose form after its token, by the writer's default visibility: it
    # depends on nothing else.
    blank_compose_forms: dict[str, Markup] = field(default_factory=dict)
    visitor_home: VisitorHome | None = None
    # How many entries a writer wrote on their today in earlier years, by (writer, day):
    # with the newest change when it was counted, since any write records one.
    memories_today: OrderedDict[tuple[int, date], tuple[int, int]] = field(
        default_factory=OrderedDict
    )

    def kept_memories(self, writer_id: int, today: date, live_seq: int) -> int | None:
        kept = self.memories_today.get((writer_id, today))
        if kept is None or kept[0] != live_seq:
            return None
        self.memories_today.move_to_end((writer_id, today))
        return kept[1]

    def keep_memories(self, writer_id: int, today: date, live_seq: int, count: int) -> None:
        self.memories_today[(writer_id, today)] = (live_seq, count)
        self.memories_today.move_to_end((writer_id, today))
        if len(self.memories_today) > MEMORIES_KEPT:
            self.memories_today.popitem(last=False)
