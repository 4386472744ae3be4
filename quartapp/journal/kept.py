"""Pages, or parts of them, that are the same for everyone and rendered once per worker.

Each is kept with what it depends on, and the routes check that before using it
(``journal/routes.py``): nothing here is ever stale by time.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class VisitorHome:
    """The home page as every visitor sees it."""

    live_seq: int  # the newest change the page includes
    html: str


@dataclass(slots=True)
class KeptPages:
    # The fields of an untouched compose form: they depend on nothing.
    blank_compose_fields: Markup | None = None
    visitor_home: VisitorHome | None = None
