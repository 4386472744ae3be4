"""How many live sockets a worker holds: per client address, and in all.

A socket is cheap for a client to open and costs the worker memory for as long as it is
open (~42 KiB) and a write in every fan-out, so one client must not hold thousands. The
handshake takes a slot before it is accepted, or is refused with an HTTP status the
client sees as such (429 for its address, 503 for the worker); the slot is given back
when the socket ends, however it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

TOO_MANY_FROM_ADDRESS = 429
TOO_MANY_IN_ALL = 503


@dataclass(frozen=True, slots=True)
class Refused:
    """A handshake turned away before it was accepted: the status and a short body."""

    status: int
    message: str


class SocketSlots:
    """Counts of open sockets by client key (``ratelimits.address_key``), and in all."""

    __slots__ = ("_by_key", "max_per_key", "max_total", "total")

    def __init__(self, max_total: int, max_per_key: int) -> None:
        self.max_total = max_total
        self.max_per_key = max_per_key
        self.total = 0
        self._by_key: dict[str, int] = {}

    def held_by(self, key: str) -> int:
        return self._by_key.get(key, 0)

    def take(self, key: str) -> Refused | None:
        """Count one more socket for ``key``; a refusal (and nothing counted) past a cap."""
        held = self.held_by(key)
        if held >= self.max_per_key:
            return Refused(TOO_MANY_FROM_ADDRESS, "Too many live connections from your address.")
        if self.total >= self.max_total:
            return Refused(TOO_MANY_IN_ALL, "Too many live connections; try again later.")
        self._by_key[key] = held + 1
        self.total += 1
        return None

    def give_back(self, key: str) -> None:
        held = self._by_key[key] - 1
        if held:
            self._by_key[key] = held
        else:
            del self._by_key[key]  # no entry kept for every address ever seen
        self.total -= 1

    @contextlib.contextmanager
    def holding(self, key: str) -> Iterator[Refused | None]:
        """A slot for the block (given back however it ends), or the refusal."""
        refused = self.take(key)
        try:
            yield refused
        finally:
            if refused is None:
                self.give_back(key)
