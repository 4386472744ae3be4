"""An entry's history: every edit keeps what the entry said before it
(``store.update_entry`` calls ``keep``), listed for its author, compared as a readable
diff, and restorable (which is itself an edit, so nothing is ever lost by restoring)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.models import Entry, EntryVersion, utcnow

CONTEXT_LINES = 3  # unchanged lines shown around each change


@dataclass(frozen=True)
class Version:
    """One state of an entry: ``id`` None for the entry as it is now."""

    id: int | None
    title: str
    body: str
    visibility: str
    saved_at: datetime

    @property
    def characters(self) -> int:
        return len(self.body)

    @property
    def words(self) -> int:
        return len(self.body.split())


def current(entry: Entry) -> Version:
    return Version(
        None, entry.title, entry.body, entry.visibility, entry.updated_at or entry.created_at
    )


async def keep(session: AsyncSession, entry: Entry) -> None:
    """Keep the entry as it is, before an edit changes it (in the edit's transaction)."""
    session.add(
        EntryVersion(
            entry_id=entry.id,
            title=entry.title,
            body=entry.body,
            visibility=entry.visibility,
            saved_at=entry.updated_at or entry.created_at,
            replaced_at=utcnow(),
        )
    )


async def versions(session: AsyncSession, entry: Entry) -> list[Version]:
    """The entry now, then every earlier state, newest first."""
    rows = await session.scalars(
        select(EntryVersion)
        .where(EntryVersion.entry_id == entry.id)
        .order_by(EntryVersion.id.desc())
    )
    return [current(entry)] + [
        Version(row.id, row.title, row.body, row.visibility, row.saved_at) for row in rows
    ]


async def version(session: AsyncSession, entry: Entry, version_id: int) -> Version | None:
    row = await session.scalar(
        select(EntryVersion).where(EntryVersion.id == version_id, EntryVersion.entry_id == entry.id)
    )
    if row is None:
        return None
    return Version(row.id, row.title, row.body, row.visibility, row.saved_at)


Kind = Literal["same", "added", "removed", "gap"]


@dataclass(frozen=True)
class DiffLine:
    kind: Kind
    text: str


def line_diff(old: str, new: str) -> list[DiffLine]:
    """What changed from ``old`` to ``new``, line by line, with a few unchanged lines
    around each change and a gap for the rest."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    lines: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if lines:
            lines.append(DiffLine("gap", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", text) for text in old_lines[i1:i2])
                continue
            lines.extend(DiffLine("removed", text) for text in old_lines[i1:i2])
            lines.extend(DiffLine("added", text) for text in new_lines[j1:j2])
    return lines
