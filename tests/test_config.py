"""Settings from the environment and .env: defaults, the secret key, clear errors."""

from __future__ import annotations

import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from quartapp import create_app
from quartapp.config import (
    MIN_SECRET_KEY_BITS,
    ConfigError,
    RateLimitSpec,
    estimated_key_bits,
    load_settings,
)
from tests.helpers import AuthActions

LONG_KEY = "a-long-production-secret-" + "s" * 40


def load(environ: dict[str, str], tmp_path: Path) -> Any:
    """Settings from exactly this environment (no .env), with a private instance folder."""
    return load_settings(environ={"INSTANCE_PATH": str(tmp_path), **environ}, dotenv_path=None)


def app_settings(tmp_path: Path) -> dict[str, Any]:
    return {"instance_path": tmp_path, "database_url": f"sqlite+aiosqlite:///{tmp_path}/x.db"}


def test_defaults(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.env == "development"
    assert not settings.production
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    assert settings.remember_days == 30
    assert settings.rate_limit_login == RateLimitSpec(10, timedelta(minutes=1))
    assert settings.rate_limit_register == RateLimitSpec(5, timedelta(minutes=1))
    assert settings.rate_limits_enabled
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (3, 65536)
    assert settings.argon2_parallelism == 4
    assert settings.redis_prefix == "quartapp:"


def test_development_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance" / "nested"
    first = load({}, instance)
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    assert load({}, instance).secret_key == first.secret_key
    assert sorted(path.name for path in instance.iterdir()) == ["secret_key"]  # no leftovers


def test_workers_starting_together_share_one_secret_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load({}, tmp_path).secret_key, range(16)))
    assert len(keys) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key"]


def test_each_instance_gets_its_own_secret_key(tmp_path: Path) -> None:
    assert load({}, tmp_path / "a").secret_key != load({}, tmp_path / "b").secret_key


def test_a_set_secret_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    assert load({"SECRET_KEY": "mine"}, tmp_path).secret_key == "mine"
    assert not (tmp_path / "secret_key").exists()


async def test_logins_survive_a_restart_with_the_kept_key(make_app: Any) -> None:
    """Two app instances, no configured key: the second reads the key the first made."""
    async with make_app(secret_key="").test_app() as first:
        auth = AuthActions(first.test_client())
        assert (await auth.register("alice")).status_code == 303
        assert auth.client.cookie_jar is not None
        cookies = "; ".join(f"{c.name}={c.value}" for c in auth.client.cookie_jar)
    async with make_app(secret_key="").test_app() as second:
        response = await second.test_client().get("/account", headers={"Cookie": cookies})
        assert response.status_code == 200


@pytest.mark.parametrize("key", ["", "short", "x" * 31])
def test_production_refuses_a_missing_or_short_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("QUARTAPP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(SystemExit) as stopped:
        create_app(app_settings(tmp_path))
    message = str(stopped.value.code)
    assert "SECRET_KEY" in message
    assert "\n" not in message
    assert key == "" or key not in message.replace("SECRET_KEY", "")  # never echo the key
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "key",
    [
        "a" * 37,  # long enough, no randomness at all
        "password" * 5,
        "Aa1!" * 10,
        "1234567890" * 4,
        "3141592653589793238462643383279502884",  # digits only: 123 bits at most
    ],
)
def test_production_refuses_a_long_but_guessable_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("QUARTAPP_ENV", "production")
    monkeypatch.setenv("ALLOWED_HOSTS", "journal.example")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(SystemExit) as stopped:
        create_app(app_settings(tmp_path))
    message = str(stopped.value.code)
    assert "SECRET_KEY is not random enough" in message
    assert key not in message


@pytest.mark.parametrize(
    ("make", "nbytes"),
    [
        (secrets.token_hex, 16),
        (secrets.token_hex, 48),
        (secrets.token_urlsafe, 24),
        (secrets.token_urlsafe, 48),
    ],
)
def test_random_keys_always_pass_the_entropy_check(make: Any, nbytes: int) -> None:
    """A key from the generator the error message recommends, or 128 random bits in hex,
    must never be refused: the estimate only ever errs towards accepting."""
    assert all(estimated_key_bits(make(nbytes)) >= MIN_SECRET_KEY_BITS for _ in range(2000))


def test_production_accepts_a_long_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARTAPP_ENV", "production")
    monkeypatch.setenv("ALLOWED_HOSTS", "journal.example")
    monkeypatch.setenv("SITE_URL", "https://journal.example")
    monkeypatch.setenv("SECRET_KEY", LONG_KEY)
    app = create_app(app_settings(tmp_path))
    assert app.secret_key == LONG_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "REMEMBER_DAYS=7\n"
        "LOG_LEVEL=debug\n"
        "RATE_LIMIT_LOGIN=3/minute\n"
        f"SECRET_KEY={LONG_KEY}\n"
        "QUARTAPP_ENV=production\n"
    )
    settings = load_settings(
        environ={"REMEMBER_DAYS": "9", "QUARTAPP_ENV": "development"}, dotenv_path=dotenv
    )
    assert settings.remember_days == 9  # the environment wins
    assert settings.env == "development"
    assert settings.log_level == "DEBUG"  # only in .env
    assert settings.rate_limit_login == RateLimitSpec(3, timedelta(minutes=1))
    assert settings.secret_key == LONG_KEY


def test_missing_dotenv_is_fine(tmp_path: Path) -> None:
    settings = load_settings(environ={"SECRET_KEY": "k"}, dotenv_path=tmp_path / "no-such-file.env")
    assert settings.secret_key == "k"


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = load(
        {
            "QUARTAPP_ENV": "production",
            "SECRET_KEY": LONG_KEY,
            "ALLOWED_HOSTS": " Journal.example., .team.example ",
            "SITE_URL": "https://journal.example/",
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/journal",
            "REMEMBER_DAYS": "14",
            "SESSION_IDLE_HOURS": " 2 ",
            "RATE_LIMITS_ENABLED": "off",
            "ARGON2_TIME_COST": "2",
            "ARGON2_MEMORY_KIB": "19456",
            "ARGON2_PARALLELISM": "1",
            "LOG_LEVEL": "warning",
            "REDIS_PREFIX": "journal-a:",
        },
        tmp_path,
    )
    assert settings.production
    assert settings.allowed_hosts == ("journal.example", ".team.example")
    assert settings.database_url == "postgresql+asyncpg://u:p@db/journal"
    assert (settings.remember_days, settings.session_idle_hours) == (14, 2)
    assert settings.rate_limits_enabled is False
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (2, 19456)
    assert settings.argon2_parallelism == 1
    assert settings.log_level == "WARNING"
    assert settings.redis_prefix == "journal-a:"


@pytest.mark.parametrize("text", ["1", "true", "Yes", "ON"])
def test_true_values(tmp_path: Path, text: str) -> None:
    assert load({"RATE_LIMITS_ENABLED": text}, tmp_path).rate_limits_enabled is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REMEMBER_DAYS", "abc"),
        ("REMEMBER_DAYS", "0"),
        ("REMEMBER_DAYS", "-3"),
        ("REMEMBER_DAYS", "1.5"),
        ("REMEMBER_DAYS", ""),
        ("REMEMBER_DAYS", "1000000000"),
        ("SESSION_IDLE_HOURS", "0"),
        ("SESSION_IDLE_HOURS", "100000000000"),
        ("ARGON2_TIME_COST", "0"),
        ("ARGON2_TIME_COST", "4294967296"),
        ("ARGON2_MEMORY_KIB", "7"),
        ("ARGON2_MEMORY_KIB", "16"),  # less than 8 KiB per lane (4 lanes by default)
        ("ARGON2_PARALLELISM", "x"),
        ("ARGON2_PARALLELISM", "16777216"),
        ("RATE_LIMITS_ENABLED", "maybe"),
        ("RATE_LIMITS_ENABLED", ""),
        ("RATE_LIMIT_LOGIN", "lots"),
        ("RATE_LIMIT_REGISTER", "5/fortnight"),
        ("LOG_LEVEL", "loud"),
        ("QUARTAPP_ENV", "prod"),
        ("ALLOWED_HOSTS", "https://journal.example"),
        ("ALLOWED_HOSTS", "journal.example:443"),
        ("ALLOWED_HOSTS", "*.journal.example"),
        ("ALLOWED_HOSTS", "."),
        ("SMTP_PORT", "0"),
        ("SMTP_PORT", "65536"),
        ("SMTP_HOST", "smtp://mail.example"),
        ("SMTP_TLS", "ssl"),
        ("MAIL_FROM", "not an address"),
        ("MAIL_FROM", "journal@example.org\r\nBcc: everyone@example.org"),
        ("SITE_URL", "journal.example"),
        ("SITE_URL", "ftp://journal.example"),
        ("SITE_URL", "https://journal.example/?next=/"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        load({name: value}, tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("SESSION_IDLE_HOURS", "a day"), ("REMEMBER_DAYS", "1000000000"), ("ARGON2_MEMORY_KIB", "16")],
)
def test_bad_value_stops_the_app_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        create_app(app_settings(tmp_path))
    message = str(stopped.value.code)
    assert name in message
    assert "\n" not in message


def test_unknown_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="remember_dayz"):
        load_settings(
            environ={"INSTANCE_PATH": str(tmp_path)},
            overrides={"remember_dayz": 3},
            dotenv_path=None,
        )


def test_mail_settings_are_parsed(tmp_path: Path) -> None:
    settings = load(
        {
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "465",
            "SMTP_USERNAME": "journal",
            "SMTP_PASSWORD": "s3cret",
            "SMTP_TLS": "tls",
            "MAIL_FROM": "Journal <journal@example.org>",
            "SITE_URL": "https://journal.example/",
        },
        tmp_path,
    )
    assert settings.mail_configured
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "smtp.example.org",
        465,
        "tls",
    )
    assert (settings.smtp_username, settings.smtp_password) == ("journal", "s3cret")
    assert settings.mail_from == "Journal <journal@example.org>"
    assert settings.site_url == "https://journal.example"  # no trailing slash


def test_without_an_smtp_host_mail_is_not_configured(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert not settings.mail_configured
    assert (settings.smtp_port, settings.smtp_tls, settings.site_url) == (587, "starttls", "")


def test_an_smtp_host_needs_a_sender(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        load({"SMTP_HOST": "smtp.example.org"}, tmp_path)


def test_production_needs_the_site_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SITE_URL"):
        load(
            {
                "QUARTAPP_ENV": "production",
                "SECRET_KEY": LONG_KEY,
                "ALLOWED_HOSTS": "journal.example",
            },
            tmp_path,
        )
