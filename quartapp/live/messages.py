"""Events as the websocket sends them: serialized and framed once per audience.

Each event is rendered and serialized once for readers in general and once for its author,
never once per connection; a private entry's events reach only its author.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

from quartapp.live import events
from quartapp.models import Event

# (entry id) -> (card for readers, card for the author); a missing id was deleted since.
RenderCards = Callable[[list[int]], Awaitable[dict[int, tuple[str, str]]]]


def reader_kind(event: Event) -> str | None:
    """What a reader who is not the author sees of an event (None: nothing)."""
    if event.kind == events.DELETED:
        return events.DELETED if event.public_before else None
    if event.public_before and event.public_after:
        return events.UPDATED
    if event.public_after:
        return events.CREATED  # it just became visible to them
    if event.public_before:
        return events.DELETED  # it just became private
    return None


FIN_TEXT = 0x81  # final fragment, opcode 1 (text)


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed, unfragmented text frame (RFC 6455, section 5.2).

    A server's frames are not masked, so without compression a message is the same bytes
    on every socket: each is framed once per audience, not once per socket.
    """
    payload = text.encode("utf-8")
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + payload


def message(event: Event, kind: str, html: str | None) -> str:
    body: dict[str, object] = {"seq": event.seq, "type": kind, "entry_id": event.entry_id}
    if kind != events.DELETED and html is not None:
        body["html"] = html
    return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True)
class Audiences:
    """One event serialized (and framed) for each audience; None where it sees nothing."""

    seq: int
    author_id: int
    for_author: str | None
    for_readers: str | None
    sessions_changed: bool = False

    def for_user(self, user_id: int | None) -> str | None:
        return self.for_author if user_id == self.author_id else self.for_readers

    # Framed once per audience, for the first socket written to directly (direct.py).
    @cached_property
    def author_frame(self) -> bytes:
        return text_frame(self.for_author or "")

    @cached_property
    def readers_frame(self) -> bytes:
        return text_frame(self.for_readers or "")

    def frame_for_user(self, user_id: int | None) -> bytes:
        """The ``for_user`` text as one websocket frame (only asked for when there is one)."""
        return self.author_frame if user_id == self.author_id else self.readers_frame


async def serialize(batch: list[Event], render_cards: RenderCards) -> list[Audiences]:
    wanted = [
        e.entry_id for e in batch if e.kind in {events.CREATED, events.UPDATED} and e.entry_id
    ]
    cards = await render_cards(wanted) if wanted else {}
    result = []
    for event in batch:
        if event.kind == events.SESSIONS:
            result.append(Audiences(event.seq, event.author_id, None, None, True))
            continue
        if event.kind == events.RENAMED:
            result.append(Audiences(event.seq, event.author_id, None, None))
            continue
        card = cards.get(event.entry_id or 0)
        if event.kind != events.DELETED and card is None:
            # Deleted since: its own "deleted" event follows; send only the seq along.
            result.append(Audiences(event.seq, event.author_id, None, None))
            continue
        for_readers = None
        if kind := reader_kind(event):
            for_readers = message(event, kind, card[0] if card else None)
        for_author = message(event, event.kind, card[1] if card else None)
        result.append(Audiences(event.seq, event.author_id, for_author, for_readers))
    return result
