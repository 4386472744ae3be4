"""Uploaded images' rows, and which entries show them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts.store import lock_user
from quartapp.models import PUBLIC, Entry, EntryImage, Upload

PATH_PREFIX = "/uploads/"
# An uploaded image's address as the renderer writes it into an entry's HTML.
_IMAGE_SRC = re.compile(r'<img src="/uploads/([A-Za-z0-9_-]{22}\.(?:jpg|png|webp|gif))"')


class QuotaExceeded(Exception):
    def __init__(self, used: int) -> None:
        self.used = used


async def add(
    session: AsyncSession,
    user_id: int,
    *,
    name: str,
    content_type: str,
    size: int,
    width: int,
    height: int,
    quota: int,
    now: datetime,
) -> Upload:
    """Keep a new image's row; QuotaExceeded when it would take the account past
    ``quota`` bytes."""
    await lock_user(session, user_id)  # two uploads at once cannot both pass the sum
    used = await used_bytes(session, user_id)
    if used + size > quota:
        raise QuotaExceeded(used)
    upload = Upload(
        user_id=user_id,
        name=name,
        content_type=content_type,
        size=size,
        width=width,
        height=height,
        created_at=now,
    )
    session.add(upload)
    await session.flush()
    return upload


async def by_name(session: AsyncSession, name: str) -> Upload | None:
    found: Upload | None = await session.scalar(select(Upload).where(Upload.name == name))
    return found


async def shown_publicly(session: AsyncSession, upload_id: int) -> bool:
    """Some public entry shows the image."""
    query = select(
        exists().where(
            EntryImage.upload_id == upload_id,
            EntryImage.entry_id == Entry.id,
            Entry.visibility == PUBLIC,
        )
    )
    return bool(await session.scalar(query))


def names_in(body_html: str) -> set[str]:
    return set(_IMAGE_SRC.findall(body_html))


async def link_entry(session: AsyncSession, entry_id: int, author_id: int, body_html: str) -> None:
    """Record which of its author's images the entry shows now (in the entry's save)."""
    await session.execute(delete(EntryImage).where(EntryImage.entry_id == entry_id))
    names = names_in(body_html)
    if not names:
        return
    upload_ids = await session.scalars(
        select(Upload.id).where(Upload.name.in_(names), Upload.user_id == author_id)
    )
    session.add_all(EntryImage(entry_id=entry_id, upload_id=upload_id) for upload_id in upload_ids)


async def of_user(session: AsyncSession, user_id: int) -> list[Upload]:
    rows = await session.scalars(
        select(Upload).where(Upload.user_id == user_id).order_by(Upload.id)
    )
    return list(rows)


async def used_bytes(session: AsyncSession, user_id: int) -> int:
    used = await session.scalar(
        select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.user_id == user_id)
    )
    return int(used or 0)


def stored_names(uploads: Iterable[Upload]) -> list[str]:
    return [upload.name for upload in uploads]
