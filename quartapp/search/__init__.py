"""Full-text search (``text.py``: what is searched and how words compare; ``index.py``: the
index in SQLite or PostgreSQL; ``indexer.py``: keeping it up to date after each write;
``routes.py``: ``GET /search``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.search.indexer import queue
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose
from quartapp.tags.store import set_tags


async def entry_written(
    session: AsyncSession, entry_id: int, title: str, body_html: str, *, new: bool
) -> None:
    """Keep the entry's tags in step with what was just written (``new``: a new entry,
    with none yet), in the same transaction, and queue it for the search index, which
    reads it once this commits (``indexer.py``)."""
    tags = tags_in_prose(reading(body_html).prose)
    await set_tags(session, entry_id, tags, new=new)
    await queue(session, entry_id)
