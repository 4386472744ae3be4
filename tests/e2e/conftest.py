"""Fixtures for the browser tests: a real hypercorn process and a headless Chromium.

The server runs ``python -m quartapp serve --config hypercorn.toml`` (hypercorn) on
127.0.0.1 and a free port, on the test's own copy of the Alembic-migrated database (SQLite,
or PostgreSQL when configured);
it can be killed and started again on the same port and database. The browser is Debian's
Chromium driven by Playwright's sync API (never a downloaded browser). Without either, the
tests are skipped with the reason; with ``CI`` set they fail instead, so a CI run cannot
pass by skipping them.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT = 20.0  # seconds for hypercorn to answer /healthz
STOP_TIMEOUT = 5.0
# hypercorn waits up to its graceful_timeout for closed websockets' ping tasks (they sleep out
# websocket_ping_interval): the tests do not wait that long before SIGKILL.
GRACE = 2.0
DEFAULT_TIMEOUT_MS = 5_000  # Playwright actions and expectations, unless a test says less


def unavailable(reason: str) -> NoReturn:
    """Skip, saying why; on CI (``CI`` set) fail instead: there the tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser tests may not be skipped)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One hypercorn process (and its worker) in a session of its own, so that it can be
    killed whole; ``start`` again serves the same database on the same port."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        command = [
            sys.executable,
            "-m",
            "quartapp",
            "serve",
            "--config",
            "hypercorn.toml",
            "--bind",
            f"127.0.0.1:{self.port}",
            "quartapp:create_app()",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise RuntimeError(f"hypercorn exited with {code}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(
            f"hypercorn did not answer /healthz in {START_TIMEOUT}s:\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # the group: hypercorn's worker too
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing gets to close cleanly."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)
        self.process = None

    def stop(self) -> None:
        """SIGTERM (hypercorn's graceful shutdown), then SIGKILL whatever is left."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(GRACE)
        self._signal_group(signal.SIGKILL)  # a worker that outlived its parent, too
        self.process.wait(STOP_TIMEOUT)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def server_env(test_database: TestDatabase, instance: Path) -> dict[str, str]:
    instance.mkdir()
    return {
        **os.environ,
        "DATABASE_URL": test_database.url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "e2e-secret-key-" + "x" * 40,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        "RATE_LIMITS_ENABLED": "false",
        # Empty values are ignored by the settings, and win over a stray .env file.
        "REDIS_URL": "",
        "ALLOWED_ORIGINS": "",
        "SMTP_HOST": "",
        "SITE_URL": "",
        "QUARTAPP_ENV": "development",
    }


@contextlib.contextmanager
def running_server(
    env: dict[str, str], log_path: Path, port: int | None = None
) -> Iterator[Server]:
    running = Server(port or free_port(), env, log_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        # Shown by pytest only when the test failed.
        print(f"--- hypercorn log ({running.log_path}) ---\n{running.log_tail()}")


@pytest.fixture
def server(test_database: TestDatabase, tmp_path: Path) -> Iterator[Server]:
    env = server_env(test_database, tmp_path / "instance")
    with running_server(env, tmp_path / "hypercorn.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium); no browser is downloaded")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing (make install-dev)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


NewContext = Callable[..., "BrowserContext"]


@pytest.fixture
def new_context(browser: Browser, server: Server) -> Iterator[NewContext]:
    """Make browser contexts (separate cookie jars) on the server; uncaught JavaScript
    errors in any of their pages fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def factory(**options: Any) -> BrowserContext:
        context = browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.on(
            "weberror",
            lambda error: errors.append(f"{error.page and error.page.url}: {error.error}"),
        )
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


SignUp = Callable[["Page", str], None]


@pytest.fixture
def sign_up() -> SignUp:
    """Register through the form, log out, and log in again through the login form."""

    def act(page: Page, username: str) -> None:
        page.goto("/register")
        page.fill("#username", username)
        page.fill("#email", f"{username}@example.com")
        page.fill("#password", DEFAULT_PASSWORD)
        page.fill("#confirm", DEFAULT_PASSWORD)
        page.get_by_role("button", name="Register").click()
        page.wait_for_url("/")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("/")
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", DEFAULT_PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        page.wait_for_url("/")
        assert page.get_by_role("button", name="Log out").is_visible()

    return act
