"""Helpers shared by every feature's WTForms forms."""

from __future__ import annotations

from typing import TypeVar

from quart import request
from wtforms import Form
from wtforms.validators import Email

F = TypeVar("F", bound=Form)


def strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def EmailAddress() -> Email:
    return Email("Enter a valid e-mail address, like name@example.com.")


async def posted_form(form_class: type[F]) -> F:
    """The form filled from the request body (an empty form for a GET)."""
    if request.method == "POST":
        return form_class(await request.form)
    return form_class()
