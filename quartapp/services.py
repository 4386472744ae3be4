"""The one typed holder of what ``create_app`` builds, and the one way to reach it.

Built once per app by the factory; views, hooks and the auth user reach it through
``services()``. The live package is handed what it needs instead, so it never looks here.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from quart import Quart, current_app
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts.hashing import PasswordHashing
from quartapp.accounts.store import SessionPolicy
from quartapp.config import Settings
from quartapp.db import Database
from quartapp.journal.cards import EntryCards
from quartapp.journal.kept import KeptPages
from quartapp.journal.render import MarkdownRenderer
from quartapp.live.broker import Broker
from quartapp.live.hub import Hub
from quartapp.mail import Mailer
from quartapp.ratelimits import RateLimits
from quartapp.search.indexer import SearchIndexer
from quartapp.uploads.storage import Storage

_KEY = "quartapp"  # the app's one entry in ``app.extensions``


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    database: Database
    hashing: PasswordHashing
    session_policy: SessionPolicy
    rate_limits: RateLimits
    cards: EntryCards
    kept_pages: KeptPages
    renderer: MarkdownRenderer
    broker: Broker
    hub: Hub
    mailer: Mailer
    search_index: SearchIndexer
    images: Storage  # uploaded images' bytes

    def attach_to(self, app: Quart) -> None:
        app.extensions[_KEY] = self


def services_of(app: Quart) -> Services:
    found = app.extensions[_KEY]
    assert isinstance(found, Services)
    return found


def services() -> Services:
    """The current app's services (in a request, a websocket or an app context)."""
    return services_of(current_app)


def read_session() -> AsyncSession:
    """The current request's read session (see ``Database.request_session``)."""
    return services().database.request_session()


def transaction() -> AbstractAsyncContextManager[AsyncSession]:
    """A write transaction, the unit of work that announces its events once committed."""
    return services().database.transaction()
