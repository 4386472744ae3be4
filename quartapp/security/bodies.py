"""How large a request body may be: 1 MiB (``MAX_CONTENT_LENGTH``), unless its view is
marked with ``accepts_body`` (an image upload). Set before anything reads the body, the
CSRF check included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from quart import current_app, request

_ATTRIBUTE = "quartapp_max_body"
View = TypeVar("View", bound=Callable[..., object])


@dataclass(frozen=True)
class BodyLimit:
    limit: Callable[[], int]  # bytes, read from the settings per request
    too_large: Callable[[], str]  # what a refusal says, naming the limit


def accepts_body(limit: Callable[[], int], too_large: Callable[[], str]) -> Callable[[View], View]:
    """The view takes bodies up to ``limit()`` bytes; past it the answer is ``too_large()``."""

    def mark(view: View) -> View:
        setattr(view, _ATTRIBUTE, BodyLimit(limit, too_large))
        return view

    return mark


def _body_limit() -> BodyLimit | None:
    view = current_app.view_functions.get(request.endpoint or "")
    found = getattr(view, _ATTRIBUTE, None)
    return found if isinstance(found, BodyLimit) else None


async def allow_larger_bodies() -> None:
    if (found := _body_limit()) is not None:
        request.max_content_length = found.limit()


def too_large_message() -> str | None:
    """What a 413 says on this request's view, when it has a limit of its own."""
    found = _body_limit()
    return found.too_large() if found is not None else None
