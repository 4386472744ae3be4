"""quartapp: a self-hostable journal and password generator on Quart."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask.templating import _default_template_ctx_processor as flask_context_processor
from quart import Quart
from werkzeug.routing import IntegerConverter, Map

from quartapp import db, errors, logs, proxy, security
from quartapp.accounts.auth import current_account, init_auth
from quartapp.accounts.hashing import PasswordHashing
from quartapp.accounts.routes import blueprint as accounts_blueprint
from quartapp.accounts.service import SessionPolicy
from quartapp.config import ConfigError, Settings, load_settings
from quartapp.health import blueprint as health_blueprint
from quartapp.journal import cards
from quartapp.journal.routes import blueprint as journal_blueprint
from quartapp.live import setup as live
from quartapp.models import MAX_ID
from quartapp.passwords.api import blueprint as passwords_api_blueprint
from quartapp.passwords.routes import blueprint as passwords_blueprint

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
        SESSION_COOKIE_NAME="quartapp_session",
        QUART_AUTH_COOKIE_NAME="quartapp_auth",
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.extensions["settings"] = settings
    app.url_map.converters["id"] = IdConverter
    logs.configure(settings.log_level, settings.log_format)

    database = db.init_app(app, settings.database_url)
    init_auth(
        app,
        SessionPolicy(
            remember_for=timedelta(days=settings.remember_days),
            idle_timeout=timedelta(hours=settings.session_idle_hours),
        ),
        secure_cookies=settings.production,
    )
    _init_password_hashing(app, settings)

    @app.before_serving
    async def _tune_gc() -> None:
        tune_garbage_collector()

    logs.init_app(app)
    security.init_app(app, settings)
    errors.init_app(app)

    app.register_blueprint(health_blueprint)
    app.register_blueprint(accounts_blueprint)
    app.register_blueprint(journal_blueprint)
    cards.init_app(app)
    app.register_blueprint(passwords_blueprint)
    app.register_blueprint(passwords_api_blueprint)
    live.init_app(app, database, settings)
    _drop_flask_context_processor(app)
    security.limit_endpoint(app, "accounts.login", settings.rate_limit_login)
    security.limit_endpoint(app, "accounts.register", settings.rate_limit_register)
    security.limit_endpoint(app, "passwords_api.generate", settings.rate_limit_passwords_api)

    @app.context_processor
    async def inject_viewer() -> dict[str, Any]:
        return {"viewer": await current_account()}

    proxy.trust_proxy(app, settings)
    return app


def _drop_flask_context_processor(app: Quart) -> None:
    """Quart's blueprints inherit Flask's default template context processor, a plain
    function, so Quart runs it in a worker thread at every render of a blueprint's page. It
    adds nothing: it reads Flask's context variables, which Quart never sets."""
    for processors in app.template_context_processors.values():
        processors[:] = [p for p in processors if p is not flask_context_processor]


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


def _init_password_hashing(app: Quart, settings: Settings) -> None:
    hashing = PasswordHashing(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
    app.extensions["password_hashing"] = hashing

    @app.before_serving
    async def _prepare() -> None:
        await hashing.prepare()

    @app.after_serving
    async def _close() -> None:
        hashing.close()
