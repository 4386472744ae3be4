"""quartapp: a self-hostable journal and password generator on Quart."""

from __future__ import annotations

import contextlib
import gc
import inspect
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any

from quart import Quart
from werkzeug.routing import IntegerConverter, Map

from quartapp import errors, live, logs, proxy, security
from quartapp.accounts.auth import LiveViewers, current_account, init_auth
from quartapp.accounts.hashing import PasswordHashing
from quartapp.accounts.routes import blueprint as accounts_blueprint
from quartapp.accounts.store import SessionPolicy
from quartapp.config import ConfigError, Settings, load_settings
from quartapp.db import Database
from quartapp.health import blueprint as health_blueprint
from quartapp.journal.cards import EntryCards, live_cards
from quartapp.journal.kept import KeptPages
from quartapp.journal.render import MarkdownRenderer
from quartapp.journal.routes import blueprint as journal_blueprint
from quartapp.live import release
from quartapp.live.asgi import BoundedWebsocketConnection, SendThrough
from quartapp.live.broker import make_broker
from quartapp.live.hub import Hub
from quartapp.live.limits import SocketSlots
from quartapp.live.routes import websocket_blueprint
from quartapp.models import MAX_ID
from quartapp.passwords.api import blueprint as passwords_api_blueprint
from quartapp.passwords.routes import blueprint as passwords_blueprint
from quartapp.ratelimits import RateLimits
from quartapp.security.hosts import allowing_hosts
from quartapp.services import Services

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
        journal_blueprint,
        passwords_blueprint,
        passwords_api_blueprint,
        websocket_blueprint(services.hub, settings.allowed_origins),
    ):
        app.register_blueprint(blueprint)
    app.jinja_env.globals["card"] = services.cards.card
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
    database = Database(settings.database_url, announce=live.announcer(broker))
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
    )


async def _serving(services: Services) -> AsyncGenerator[None, None]:
    """While the app serves: its services opened in order, and closed in reverse."""
    tune_garbage_collector()
    release.install()  # closed connections freed at once, not at a rare full collection
    async with contextlib.AsyncExitStack() as opened:
        await services.database.open()
        opened.push_async_callback(services.database.close)
        opened.callback(services.hashing.close)
        opened.push_async_callback(services.renderer.close)  # started by the first entry
        await services.hashing.prepare()
        await services.rate_limits.store.start()
        opened.push_async_callback(services.rate_limits.store.stop)
        await opened.enter_async_context(
            live.serving(services.hub, services.settings.events_retention_days)
        )
        yield


async def _signed_in_account_id() -> int | None:
    account = await current_account()
    return account.id if account is not None else None


async def _inject_viewer() -> dict[str, Any]:
    return {"viewer": await current_account()}


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
