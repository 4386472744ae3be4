"""The anchor of ``bench/http_load.py --anchor``: the Flask Mega-Tutorial's microblog
(https://github.com/miguelgrinberg/microblog), served as the tutorial deploys it, on a copy
seeded like the bench's own database. Not vendored: docs/PERFORMANCE.md says how to get it.

Everything runs with microblog's own Python (its virtualenv) in its checkout: ``flask db
upgrade`` (its Alembic migrations) and ``anchor_seed.py`` on a SQLite file of our own, then
gunicorn with sync workers (its default) on a free loopback port, its access log and the
app's log (``LOG_TO_STDOUT``) to a file. No other service is needed for ``/explore``: with
``ELASTICSEARCH_URL`` unset search is off, and Redis is only reached when a background task
is launched or shown (its client connects lazily). Signed in through its own login form.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from serving import Server, _stop, _wait_until_healthy, cookie_header, free_port, http_request

PAGE = "/explore"  # every user's posts, newest first, 25 a page; only for the signed in
LOGIN = "/auth/login"
SEED = Path(__file__).with_name("anchor_seed.py")
SEED_TIMEOUT = 300.0  # seconds for each of the migration and the seeding
CSRF = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
# microblog reads these; unset, it runs on SQLite alone (no search, no mail, no translation)
UNSET = (
    "ELASTICSEARCH_URL", "REDIS_URL", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS",
    "MAIL_USERNAME", "MAIL_PASSWORD", "MS_TRANSLATOR_KEY", "SERVER_NAME", "FLASK_DEBUG",
)  # fmt: skip


@dataclass(frozen=True)
class Anchor:
    checkout: Path  # microblog's clone, with microblog.py at its top
    python: Path  # the Python of microblog's virtualenv (gunicorn and its requirements)

    @classmethod
    def at(cls, checkout: Path, python: Path | None = None) -> Anchor:
        """The anchor in ``checkout`` (its Python: ``checkout/venv/bin/python`` unless
        given), or SystemExit saying what is missing."""
        checkout = checkout.resolve()
        python = python or checkout / "venv" / "bin" / "python"
        if not (checkout / "microblog.py").is_file():
            raise SystemExit(f"--anchor: no microblog.py in {checkout} (docs/PERFORMANCE.md)")
        if not python.is_file():
            raise SystemExit(f"--anchor: no Python at {python} (give --anchor-python)")
        return cls(checkout, python)

    def version(self) -> str:
        """The checkout's commit, as ``git describe`` says it."""
        found = subprocess.run(
            ["git", "-C", str(self.checkout), "describe", "--tags", "--always", "--dirty"],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        return found.stdout.strip() if found.returncode == 0 else "not a git checkout"

    def environment(self, work: Path) -> dict[str, str]:
        """microblog's settings: its own SQLite file in ``work``, its log on stdout."""
        env = {name: value for name, value in os.environ.items() if name not in UNSET}
        env.update(
            DATABASE_URL=f"sqlite:///{work / 'microblog.db'}",
            SECRET_KEY="anchor-" + "k" * 40,
            LOG_TO_STDOUT="1",  # as its Docker chapter runs it (else logs/ in the checkout)
            FLASK_APP="microblog.py",
        )
        return env

    def seed(
        self, work: Path, usernames: Sequence[str], password: str, posts: Sequence[str]
    ) -> str:
        """Migrate microblog's database in ``work`` and seed it (``anchor_seed.py``); what
        the seed script said."""
        env = self.environment(work)
        subprocess.run(
            [str(self.python), "-m", "flask", "db", "upgrade"],
            env=env, cwd=self.checkout, check=True, capture_output=True, timeout=SEED_TIMEOUT,
        )  # fmt: skip
        wanted = {"usernames": list(usernames), "password": password, "posts": list(posts)}
        seeded = subprocess.run(
            [str(self.python), str(SEED)], input=json.dumps(wanted), text=True,
            env=env, cwd=self.checkout, check=True, capture_output=True, timeout=SEED_TIMEOUT,
        )  # fmt: skip
        return seeded.stdout.strip()

    def command(self, port: int, workers: int) -> list[str]:
        """gunicorn as its Docker chapter's boot.sh starts it, on loopback, ``workers`` sync
        workers (the tutorial's supervisor configuration says ``-w 4``, for 4 cores)."""
        return [
            str(self.python), "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers),
            "--access-logfile", "-", "--error-logfile", "-", "microblog:app",
        ]  # fmt: skip

    @contextlib.contextmanager
    def serve(self, work: Path, workers: int) -> Iterator[Server]:
        """gunicorn on the database in ``work`` until its login page answers; stopped with
        SIGINT (killed if it lingers), in a process group of its own."""
        port = free_port()
        log = work / f"microblog-{port}.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                self.command(port, workers), env=self.environment(work), cwd=self.checkout,
                stdout=log_file, stderr=log_file, start_new_session=True,
            )  # fmt: skip
        try:
            _wait_until_healthy(port, process, log, path=LOGIN)
            yield Server(port, process.pid, log, process)
        finally:
            _stop(process)


def log_in(port: int, username: str, password: str) -> str:
    """The Cookie header of ``username`` signed in through microblog's login form (Flask-WTF
    keeps the CSRF token in Flask's signed session cookie, Flask-Login adds the user's id),
    once ``/explore`` greets them and sets no further cookie; RuntimeError otherwise."""
    status, page, cookies = http_request(port, "GET", LOGIN, {})
    token = CSRF.search(page)
    if status != 200 or token is None:
        raise RuntimeError(f"microblog: GET {LOGIN} answered {status} without a csrf_token")
    form = {"csrf_token": token.group(1), "username": username, "password": password}
    status, _, set_cookies = http_request(port, "POST", LOGIN, cookies, form)
    cookies.update(set_cookies)
    status, page, set_again = http_request(port, "GET", PAGE, cookies)
    if status != 200 or f"Hi, {username}!" not in page:
        raise RuntimeError(
            f"microblog did not sign {username} in: GET {PAGE} with the login's cookie "
            f"answered {status} (302: back to {LOGIN}), not their page"
        )
    if set_again:
        raise RuntimeError(f"microblog's session cookie keeps changing: {set_again}")
    return cookie_header(cookies)
