"""Drafts: what a writer is typing into the compose box or an entry's edit box, saved as
they type (``static/drafts.js``), so that nothing typed is lost to a closed tab, a crash
or an ended session. One draft per box: ``compose``, or ``entry-<id>`` for an edit. A
draft is its writer's alone and never a live event; posting or saving the box clears it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import upsert
from quartapp.models import Draft

COMPOSE = "compose"
_ENTRY_KEY = re.compile(r"entry-([1-9][0-9]{0,17})")
# Larger than an entry may be, so that text over the limit is kept while it is cut down;
# a form's body is at most 1 MiB anyway.
TITLE_MAX = 2_000
BODY_MAX = 200_000
WRITTEN_AT_MAX = 32  # a datetime-local value is 16 characters; a few browsers add seconds
TIME_ZONE_MAX = 64  # as the entry form's time_zone


@dataclass(frozen=True)
class Box:
    """Which box a draft is of: the compose box, or the edit box of ``entry_id``."""

    key: str
    entry_id: int | None


def box_of(key: str) -> Box | None:
    if key == COMPOSE:
        return Box(key, None)
    found = _ENTRY_KEY.fullmatch(key)
    return Box(key, int(found.group(1))) if found else None


def entry_key(entry_id: int) -> str:
    return f"entry-{entry_id}"


async def save(
    session: AsyncSession,
    user_id: int,
    box: Box,
    *,
    title: str,
    body: str,
    visibility: str,
    written_at: str = "",
    time_zone: str = "",
    now: datetime,
) -> None:
    """Keep what the box holds now, replacing its previous draft (one statement, so two
    saves at once cannot both insert)."""
    values = {
        "user_id": user_id,
        "key": box.key,
        "entry_id": box.entry_id,
        "title": title,
        "body": body,
        "visibility": visibility,
        "written_at": written_at,
        "time_zone": time_zone,
        "updated_at": now,
    }
    statement = upsert(session, Draft).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "key"],
            set_={
                "title": statement.excluded.title,
                "body": statement.excluded.body,
                "visibility": statement.excluded.visibility,
                "written_at": statement.excluded.written_at,
                "time_zone": statement.excluded.time_zone,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


async def get(session: AsyncSession, user_id: int, key: str) -> Draft | None:
    found: Draft | None = await session.scalar(
        select(Draft).where(Draft.user_id == user_id, Draft.key == key)
    )
    return found


async def of_writer(session: AsyncSession, user_id: int) -> list[Draft]:
    rows = await session.scalars(
        select(Draft).where(Draft.user_id == user_id).order_by(Draft.updated_at.desc(), Draft.id)
    )
    return list(rows)


async def discard(session: AsyncSession, user_id: int, key: str) -> bool:
    result = await session.execute(delete(Draft).where(Draft.user_id == user_id, Draft.key == key))
    return bool(result.rowcount)  # type: ignore[attr-defined]
