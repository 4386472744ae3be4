"""Input no database can take: U+0000 is refused in the address and every field."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

from quart import request
from werkzeug.exceptions import BadRequest

from quartapp.web import SAFE_METHODS


def _with_nul(values: Iterable[tuple[str, str]]) -> str | None:
    return next((name for name, value in values if "\x00" in value), None)


async def refuse_nul_characters() -> None:
    """PostgreSQL cannot store U+0000 in text, nor compare with it (SQLite can): refuse it
    in the address and every field alike, before a query fails with it as a 500."""
    if request.method in SAFE_METHODS:
        fields = request.args.items(multi=True)
    else:
        fields = chain(request.args.items(multi=True), (await request.form).items(multi=True))
    if "\x00" in request.path:
        where = "The address"
    elif (name := _with_nul(fields)) is not None:
        where = f"The field {name.replace(chr(0), '')[:40]!r}"
    else:
        return
    await request.get_data()  # read the body before answering (see errors.py)
    raise BadRequest(f"{where} contains a NUL character (U+0000), which is not accepted.")
