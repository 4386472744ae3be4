"""quartapp: a self-hostable journal and password generator on Quart."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from quart import Quart
from werkzeug.routing import IntegerConverter, Map

from quartapp import errors, live, logs, proxy, security
from quartapp.accounts.auth import LiveViewers, current_account, init_auth
from quartapp.accounts.hashing import PasswordHashing
from quartapp.accounts.recovery import blueprint as recovery_blueprint
from quartapp.accounts.routes import blueprint as accounts_blueprint
from quartapp.accounts.sessions import blueprint as sessions_blueprint
from quartapp.accounts.store import SessionPolicy
from quartapp.config import ConfigError, Settings, load_settings
from quartapp.db import Database
from quartapp.feeds.routes import blueprint as feeds_blueprint
from quartapp.follows.routes import blueprint as follows_blueprint
from quartapp.health import blueprint as health_blueprint
from quartapp.journal.cards import EntryCards, live_cards
from quartapp.journal.draft_routes import blueprint as drafts_blueprint
from quartapp.journal.history_routes import blueprint as history_blueprint
from quartapp.journal.kept import KeptPages
from quartapp.journal.preview import blueprint as preview_blueprint
from quartapp.journal.render import MarkdownRenderer
from quartapp.journal.routes import blueprint as journal_blueprint
from quartapp.live import release
from quartapp.live.asgi import BoundedWebsocketConnection, SendThrough
from quartapp.live.broker import make_broker
from quartapp.live.hub import Hub
from quartapp.live.limits import SocketSlots
from quartapp.live.routes import websocket_blueprint
from quartapp.mail import Mailer, OutboxSender
from quartapp.mail.mailer import sender_address
from quartapp.mail.transports import transport_for
from quartapp.memories.routes import blueprint as memories_blueprint
from quartapp.models import MAX_ID
from quartapp.passwords.api import blueprint as passwords_api_blueprint
from quartapp.passwords.routes import blueprint as passwords_blueprint
from quartapp.ratelimits import RateLimits
from quartapp.search.indexer import SearchIndexer
from quartapp.search.routes import blueprint as search_blueprint
from quartapp.security.hosts import allowing_hosts
from quartapp.services import Services
from quartapp.tags.routes import blueprint as tags_blueprint
from quartapp.twofactor.routes import blueprint as twofactor_blueprint
from quartapp.uploads.routes import blueprint as uploads_blueprint
from quartapp.uploads.storage import LocalStorage

mail_log = logging.getLogger("quartapp.mail")
logger = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024
# Allocations (net of frees) between two youngest-generation collections; Python's is 700.
GC_YOUNG_THRESHOLD = 50_000


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 to 2**31-1, so no lookup can overflow a column."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def create_app(overrides: Mapping[str, Any] | None = None) -> Quart:
    """Build the app. ``overrides`` replace settings by field name (see ``Settings``)."""
    try:
        settings = load_settings(overrides=overrides)
    except ConfigError as error:
        raise SystemExit(f"quartapp: configuration error: {error}") from None
    app = Quart(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        # In production (HTTPS) the __Host- prefix: browsers then keep the cookie only if it
        # is Secure, for this host alone (no Domain) and the whole site (Path=/), so neither
        # a sibling subdomain nor a plain-HTTP page can plant or overwrite it.
        SESSION_COOKIE_NAME=cookie_name("quartapp_session", settings),
        QUART_AUTH_COOKIE_NAME=cookie_name("quartapp_auth", settings),
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.url_map.converters["id"] = IdConverter
    app.asgi_websocket_class = BoundedWebsocketConnection
    logs.configure(settings.log_level, settings.log_format)

    services = build_services(app, settings)
    services.attach_to(app)
    init_auth(app, services.session_policy, secure_cookies=settings.production)
    for blueprint in (
        health_blueprint,
        accounts_blueprint,
        recovery_blueprint,
        sessions_blueprint,
        twofactor_blueprint,
        journal_blueprint,
        drafts_blueprint,
        preview_blueprint,
        history_blueprint,
        uploads_blueprint,
        search_blueprint,
        tags_blueprint,
        follows_blueprint,
        feeds_blueprint,
        memories_blueprint,
        passwords_blueprint,
        passwords_api_blueprint,
        websocket_blueprint(services.hub, settings.allowed_origins),
    ):
        app.register_blueprint(blueprint)
    app.jinja_env.globals["card"] = services.cards.card
    app.jinja_env.globals["static_path"] = _static_paths(services.cards)
    app.jinja_env.globals["upload_max_mb"] = settings.upload_max_mb
    app.context_processor(_inject_viewer)
    app.teardown_appcontext(services.database.close_request_session)
    logs.init_app(app)
    security.install(app, services.rate_limits, _signed_in_account_id)
    errors.init_app(app)
    app.while_serving(lambda: _serving(services))
    app.asgi_app = proxy.trusting_proxy(  # type: ignore[method-assign,assignment]
        allowing_hosts(SendThrough(app.asgi_app), settings.allowed_hosts), settings
    )
    # Last, once every extension and blueprint has added its own (tests/test_app_hooks.py).
    _drop_library_thread_context_processors(app)
    return app


def cookie_name(name: str, settings: Settings) -> str:
    return f"__Host-{name}" if settings.production else name


def build_services(app: Quart, settings: Settings) -> Services:
    """Everything the app holds, each part handed what it uses (nothing opened yet)."""
    broker = make_broker(settings.redis_url, settings.redis_prefix)
    database = Database(
        settings.database_url,
        announce=live.announcer(broker),
        search_language=settings.search_language,
    )
    search_index = SearchIndexer(database)
    database.listen(search_index.heard)  # it indexes what each write queued
    cards = EntryCards(app.jinja_env, app.url_map)
    session_policy = SessionPolicy(
        remember_for=timedelta(days=settings.remember_days),
        idle_timeout=timedelta(hours=settings.session_idle_hours),
    )
    return Services(
        settings=settings,
        database=database,
        hashing=PasswordHashing(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        ),
        session_policy=session_policy,
        rate_limits=RateLimits.from_settings(settings),
        cards=cards,
        kept_pages=KeptPages(),
        renderer=MarkdownRenderer(),
        broker=broker,
        hub=Hub(
            database,
            broker,
            live_cards(database, cards),
            settings.live_queue_size,
            LiveViewers(database, session_policy),
            SocketSlots(settings.live_max_sockets, settings.live_max_sockets_per_address),
            settings.live_session_check_seconds,
        ),
        mailer=Mailer(
            settings,
            OutboxSender(database, transport_for(settings), sender_address(settings)),
        ),
        images=LocalStorage(settings.instance_path / "uploads"),
        search_index=search_index,
    )


async def _serving(services: Services) -> AsyncGenerator[None, None]:
    """While the app serves: its services opened in order, and closed in reverse."""
    tune_garbage_collector()
    release.install()  # closed connections freed at once, not at a rare full collection
    async with contextlib.AsyncExitStack() as opened:
        await services.database.open()
        opened.push_async_callback(_timed, "the database", services.database.close)
        opened.callback(services.hashing.close)
        # The renderer is started by the first entry.
        opened.push_async_callback(_timed, "the Markdown renderer", services.renderer.close)
        await services.hashing.prepare()
        await services.rate_limits.store.start()
        opened.push_async_callback(_timed, "the rate limits", services.rate_limits.store.stop)
        await opened.enter_async_context(
            live.serving(services.hub, services.settings.events_retention_days)
        )
        _say_how_mail_goes(services.settings)
        services.search_index.start()
        opened.push_async_callback(_timed, "the search indexer", services.search_index.stop)
        services.mailer.sender.start()
        opened.push_async_callback(_timed, "the outbox sender", services.mailer.sender.stop)
        yield


SLOW_STOP_SECONDS = 1.0


async def _timed(what: str, stop: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Stop one service, and say so when it takes long: a shutdown has a deadline
    (hypercorn's graceful_timeout), and the log must name what spent it."""
    started = time.monotonic()
    try:
        await stop(*args)
    finally:
        spent = time.monotonic() - started
        if spent > SLOW_STOP_SECONDS:
            logger.warning("stopping %s took %.1f s", what, spent)


def _say_how_mail_goes(settings: Settings) -> None:
    if settings.mail_configured:
        return
    mail_log.warning(
        "no SMTP_HOST: new accounts are active without confirming their e-mail address, "
        "and messages are written to %s%s",
        settings.instance_path / "outbox",
        "" if settings.production else " (their links are logged here too)",
    )


async def _signed_in_account_id() -> int | None:
    account = await current_account()
    return account.id if account is not None else None


async def _inject_viewer() -> dict[str, Any]:
    return {"viewer": await current_account()}


def _static_paths(cards: EntryCards) -> Callable[[str], str]:
    """``url_for('static', filename=...)`` for templates, worked out once a file: every
    page links seven, which cost a signed-in home page 0.09 ms through ``url_for``."""

    @functools.cache
    def static_path(filename: str) -> str:
        return cards.path("static", filename=filename)

    return static_path


def _drop_library_thread_context_processors(app: Quart) -> None:
    """Quart runs a context processor that is a plain function in a worker thread, at every
    render. Two come with libraries and add nothing here: Flask's default (every blueprint
    inherits it; it reads Flask's context variables, which Quart never sets, and Quart puts
    ``request``, ``session`` and ``g`` in the Jinja globals itself) and quart-auth's
    ``current_user`` (templates use ``viewer``). Ours are all coroutine functions."""
    for processors in app.template_context_processors.values():
        processors[:] = [
            processor
            for processor in processors
            if inspect.iscoroutinefunction(processor)
            or getattr(processor, "__module__", "").startswith("quartapp")
        ]


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a server holding thousands of open sockets.

    Each websocket keeps ~60 objects the collector tracks, and a full collection scans
    them all: at 10,000 sockets one took most of a second, and a fan-out triggered them,
    because its messages were still in flight when a young collection ran (every 700
    allocations) and were promoted, until the old generation grew by a quarter. With a
    young threshold of 50,000 they are gone before a collection sees them; measured at
    10,000 sockets, the CPU a post costs fell from ~1,000 ms to ~360 and p99 from 1.8 s to
    0.35 s (docs/PERFORMANCE.md). What start-up loaded (modules, templates, metadata) is
    frozen out of every scan; only once a process, so tests making many apps free theirs.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
