"""`python -m quartapp db upgrade` and `python -m quartapp create-user`."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quartapp.__main__ import main
from tests.conftest import FAST_HASHING
from tests.database import TestDatabase
from tests.helpers import AuthActions

PASSWORD = "a password from the terminal"


def test_db_upgrade_creates_the_tables(tmp_path: Path, empty_database: TestDatabase) -> None:
    environment = {
        **os.environ,
        "DATABASE_URL": empty_database.url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "quartapp", "db", "upgrade"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {"users", "entries", "login_sessions", "alembic_version"} <= empty_database.tables()


def test_db_upgrade_makes_the_instance_files_private(tmp_path: Path) -> None:
    """The database and its -wal/-shm files hold every journal: 0600, even under umask 022."""
    instance = tmp_path / "instance"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{instance / 'journal.db'}",
        "INSTANCE_PATH": str(instance),
    }
    previous = os.umask(0o022)
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", UPGRADE_AND_WRITE],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in instance.iterdir()}
    assert {"journal.db", "journal.db-wal", "journal.db-shm", "secret_key"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700


# Migrate, then write through the app's own engine while it is still open, so the -wal and
# -shm files exist when the test looks.
UPGRADE_AND_WRITE = """
import asyncio, os, sys
from quartapp.__main__ import main
from quartapp.config import load_settings
from quartapp.db import Database
from sqlalchemy import text
assert main(["db", "upgrade"]) == 0
async def write():
    database = Database(load_settings().database_url)
    await database.open()
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM events WHERE 0"))
    os._exit(0)  # keep -wal and -shm: a clean close would check them in and remove them
asyncio.run(write())
"""


@pytest.fixture
def command_environment(
    monkeypatch: pytest.MonkeyPatch, test_database: TestDatabase, tmp_path: Path
) -> None:
    """The commands read the environment: point it at this test's database."""
    monkeypatch.setenv("DATABASE_URL", test_database.url)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ARGON2_TIME_COST", str(FAST_HASHING["argon2_time_cost"]))
    monkeypatch.setenv("ARGON2_MEMORY_KIB", str(FAST_HASHING["argon2_memory_kib"]))
    monkeypatch.setenv("ARGON2_PARALLELISM", str(FAST_HASHING["argon2_parallelism"]))


def typed_passwords(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer getpass with these, in order; returns the prompts that were shown."""
    prompts: list[str] = []
    replies = iter(answers)

    def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return prompts


async def run_main(*argv: str) -> int:
    """``main`` runs its own event loop, so it runs in a thread here."""
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.usefixtures("command_environment")
async def test_create_user_then_log_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], auth: AuthActions
) -> None:
    prompts = typed_passwords(monkeypatch, PASSWORD, PASSWORD)

    assert await run_main("create-user", "Carol", "carol@example.com") == 0

    assert len(prompts) == 2
    output = capsys.readouterr()
    assert "created user Carol" in output.out
    assert PASSWORD not in output.out + output.err
    response = await auth.login("carol", PASSWORD)
    assert response.status_code == 303
    assert (await auth.client.get("/account")).status_code == 200


@pytest.mark.usefixtures("command_environment")
async def test_create_user_stores_names_like_the_register_form(
    monkeypatch: pytest.MonkeyPatch, test_database: TestDatabase, auth: AuthActions
) -> None:
    typed_passwords(monkeypatch, PASSWORD, PASSWORD)
    assert await run_main("create-user", " Carol ", " Carol@Example.com ") == 0
    stored = test_database.rows("SELECT username, email FROM users")
    assert stored == [("Carol", "Carol@example.com")]  # the domain normalised, as /register does
    assert (await auth.login("carol@example.com", PASSWORD)).status_code == 303


@pytest.mark.usefixtures("command_environment")
@pytest.mark.parametrize(
    ("username", "email", "passwords", "message"),
    [
        ("no spaces allowed", "a@example.com", (PASSWORD, PASSWORD), "username"),
        ("ab", "a@example.com", (PASSWORD, PASSWORD), "username"),
        ("dave", "not-an-email", (PASSWORD, PASSWORD), "email"),
        ("dave", "dave@example.com", ("short", "short"), "password"),
        ("dave", "dave@example.com", ("password1", "password1"), "too easy to guess"),
        ("dave", "dave@example.com", ("dave@example.com",) * 2, "your username or e-mail"),
        ("dave", "dave@example.com", (PASSWORD, PASSWORD + "!"), "do not match"),
    ],
)
async def test_create_user_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    test_database: TestDatabase,
    username: str,
    email: str,
    passwords: tuple[str, str],
    message: str,
) -> None:
    typed_passwords(monkeypatch, *passwords)

    assert await run_main("create-user", username, email) != 0

    error = capsys.readouterr().err
    assert message in error
    assert error.startswith("error:")
    assert passwords[0] not in error
    assert test_database.count("users") == 0


@pytest.mark.usefixtures("command_environment")
async def test_create_user_refuses_a_taken_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], auth: AuthActions
) -> None:
    assert (await auth.register("erin", email="erin@example.com")).status_code == 303
    typed_passwords(monkeypatch, PASSWORD, PASSWORD, PASSWORD, PASSWORD)

    assert await run_main("create-user", "ERIN", "other@example.com") == 1
    assert "username: already registered" in capsys.readouterr().err
    assert await run_main("create-user", "frank", "Erin@Example.com") == 1
    assert "email: already registered" in capsys.readouterr().err


def test_create_user_with_a_bad_setting_explains_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ARGON2_TIME_COST", "lots")
    typed_passwords(monkeypatch, PASSWORD, PASSWORD)
    assert main(["create-user", "gina", "gina@example.com"]) == 2
    assert "ARGON2_TIME_COST" in capsys.readouterr().err


def test_unknown_command_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["make-coffee"])
    assert stopped.value.code != 0
    assert "invalid choice" in capsys.readouterr().err
