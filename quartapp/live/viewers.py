"""Who is on the other end of a live socket: asked of the accounts, which the app factory
hands in, so live updates never import the accounts package."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    session_token: str  # the login whose end closes the socket


class Viewers(Protocol):
    async def current(self) -> Viewer | None:
        """The signed-in viewer of this websocket handshake; None for a visitor."""

    async def signed_in(self, session_tokens: Collection[str]) -> set[str]:
        """Those of these logins that have not ended (logout, password change, expiry),
        found in one query for any number of them; nothing is written. An open socket is
        not a use of its login: it does not keep an idle login alive."""
