"""Typed settings read from the environment (and an optional ``.env`` file).

Every setting an operator may change is listed in ``Settings`` and documented in the
README. ``load_settings`` is the only place that reads ``os.environ``.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import string
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
MIN_SECRET_KEY_LENGTH = 32
# What a production key must hold, as far as the key itself shows it: a 32-byte random key.
MIN_SECRET_KEY_BITS = 128
# PROXY_HEADERS values, and the hypercorn ProxyFixMiddleware mode that reads each.
PROXY_HEADERS: dict[str, Literal["legacy", "modern"]] = {
    "x-forwarded": "legacy",
    "forwarded": "modern",
}

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class RateLimitSpec:
    count: int
    period: timedelta

    @classmethod
    def parse(cls, name: str, text: str) -> RateLimitSpec:
        match = _RATE_RE.match(text)
        if match is None or int(match.group(1)) < 1:
            raise ConfigError(f"{name} must look like '10/minute' (second, minute, hour, day)")
        return cls(int(match.group(1)), timedelta(seconds=_PERIODS[match.group(2)]))


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = ""
    instance_path: Path = DEFAULT_INSTANCE_PATH
    database_url: str = ""
    log_level: str = "INFO"
    log_format: str = "text"
    remember_days: int = 30
    session_idle_hours: int = 24
    rate_limit_login: RateLimitSpec = RateLimitSpec(10, timedelta(minutes=1))
    rate_limit_register: RateLimitSpec = RateLimitSpec(5, timedelta(minutes=1))
    rate_limit_passwords_api: RateLimitSpec = RateLimitSpec(120, timedelta(minutes=1))
    # Changing or deleting the account: each checks the current password (an Argon2 verify).
    rate_limit_account_password: RateLimitSpec = RateLimitSpec(10, timedelta(hours=1))
    # Every other state change: entries, the profile, saved password rules, logging out.
    rate_limit_writes: RateLimitSpec = RateLimitSpec(30, timedelta(minutes=1))
    # Asking for a password reset or confirmation link (per address and per name typed),
    # and choosing a new password by a link.
    rate_limit_recovery: RateLimitSpec = RateLimitSpec(10, timedelta(hours=1))
    # The second step of signing in (a code or a passkey), per address and per account:
    # at most 10 guesses an hour at a 6-digit code keep the odds below 1 in 1,000 a day.
    rate_limit_second_factor: RateLimitSpec = RateLimitSpec(10, timedelta(hours=1))
    # Drafts saved while writing (a few seconds after typing stops, and when a tab closes).
    rate_limit_drafts: RateLimitSpec = RateLimitSpec(120, timedelta(minutes=1))
    # Images uploaded into entries: the largest file, and all of one account's together.
    upload_max_mb: int = 10
    upload_quota_mb: int = 200
    # PostgreSQL's text search configuration for the search index ("simple": no stemming,
    # so any language works; "english" finds "walked" for "walk"). SQLite has one for all.
    search_language: str = "simple"
    rate_limits_enabled: bool = True
    # Origins allowed to open /ws, like "https://journal.example"; empty: the site's own.
    allowed_origins: tuple[str, ...] = ()
    # Host names this site answers to (Host header), like "journal.example" or
    # ".journal.example" (it and its subdomains); empty: any (development only).
    allowed_hosts: tuple[str, ...] = ()
    events_retention_days: int = 7
    live_queue_size: int = 256
    # Live websockets one worker holds: from one client address (IPv6: its /64), and in all.
    # 10,000 in all: at ~42 KiB a socket that is ~420 MiB, and a fan-out to that many
    # takes about twice the 0.1-0.25 s measured at 5,000 (docs/PERFORMANCE.md); past that,
    # more workers serve better than a longer wait for every event.
    live_max_sockets_per_address: int = 100
    live_max_sockets: int = 10_000
    # Seconds between checks that each open socket's login still exists (one query for
    # all of a worker's sockets); a login that ended with no event (idle expiry) closes
    # its sockets by then. At most 60: the promise is "at least every minute".
    live_session_check_seconds: float = 30.0
    redis_url: str = ""
    # Namespaces this site's keys and channel, so several sites (or test runs) share a Redis.
    redis_prefix: str = "quartapp:"
    # Proxies in front of the app whose forwarded headers are believed; 0: none, so the
    # client address and scheme are the connection's own and no header can change them.
    proxy_trusted_hops: int = 0
    proxy_headers: str = "x-forwarded"  # X-Forwarded-For/-Proto/-Host, or "forwarded"
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Outbound e-mail (quartapp/mail/). Without SMTP_HOST messages are written as .eml files
    # under the instance folder, and accounts need no confirmation.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: str = "starttls"  # starttls, tls (implicit, port 465) or none (a local relay)
    mail_from: str = ""
    # The public base URL of the site for links in messages, like https://journal.example.
    # Empty (development only): the address the request came in on.
    site_url: str = ""

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def mail_configured(self) -> bool:
        return bool(self.smtp_host)


def _int(name: str, text: str, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be from {minimum} to {maximum}")
    return value


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {text!r}")


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(item.strip().lower().rstrip("/") for item in text.split(",") if item.strip())
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in {"http", "https"} or not host or "/" in host:
            raise ConfigError(
                f"ALLOWED_ORIGINS takes origins like https://journal.example, not {origin!r}"
            )
    return origins


def _hosts(text: str) -> tuple[str, ...]:
    hosts = tuple(item.strip().lower().rstrip(".") for item in text.split(",") if item.strip())
    for host in hosts:
        name = host.removeprefix(".")
        if not name or any(mark in name for mark in "/:@ *"):
            raise ConfigError(
                "ALLOWED_HOSTS takes host names like journal.example or .journal.example "
                f"(no scheme or port), not {host!r}"
            )
    return hosts


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _read_environment(environ: Mapping[str, str], dotenv_path: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(environ)  # the real environment wins over .env
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    dotenv_path: Path | None = PROJECT_ROOT / ".env",
) -> Settings:
    """Build the settings from the environment, then apply ``overrides`` (field names)."""
    env = _read_environment(os.environ if environ is None else environ, dotenv_path)
    kwargs: dict[str, Any] = {}
    if "QUARTAPP_ENV" in env:
        if env["QUARTAPP_ENV"] not in {"development", "production"}:
            raise ConfigError("QUARTAPP_ENV must be 'development' or 'production'")
        kwargs["env"] = env["QUARTAPP_ENV"]
    # The maximums: browsers keep a cookie at most 400 days, and Argon2 takes 32-bit
    # costs and at most 2**24-1 lanes; larger values would fail later, as tracebacks.
    for name, key, minimum, maximum in (
        ("REMEMBER_DAYS", "remember_days", 1, 400),
        ("SESSION_IDLE_HOURS", "session_idle_hours", 1, 400 * 24),
        ("ARGON2_TIME_COST", "argon2_time_cost", 1, 2**32 - 1),
        ("ARGON2_MEMORY_KIB", "argon2_memory_kib", 8, 2**32 - 1),
        ("ARGON2_PARALLELISM", "argon2_parallelism", 1, 2**24 - 1),
        ("EVENTS_RETENTION_DAYS", "events_retention_days", 1, 3650),
        ("LIVE_QUEUE_SIZE", "live_queue_size", 8, 100_000),
        ("UPLOAD_MAX_MB", "upload_max_mb", 1, 100),
        ("UPLOAD_QUOTA_MB", "upload_quota_mb", 1, 1_000_000),
        ("LIVE_MAX_SOCKETS_PER_ADDRESS", "live_max_sockets_per_address", 1, 1_000_000),
        ("LIVE_MAX_SOCKETS", "live_max_sockets", 1, 1_000_000),
        ("LIVE_SESSION_CHECK_SECONDS", "live_session_check_seconds", 1, 60),
        ("PROXY_TRUSTED_HOPS", "proxy_trusted_hops", 0, 10),
    ):
        if name in env:
            kwargs[key] = _int(name, env[name], minimum, maximum)
    for name, key in (
        ("RATE_LIMIT_LOGIN", "rate_limit_login"),
        ("RATE_LIMIT_REGISTER", "rate_limit_register"),
        ("RATE_LIMIT_PASSWORDS_API", "rate_limit_passwords_api"),
        ("RATE_LIMIT_ACCOUNT_PASSWORD", "rate_limit_account_password"),
        ("RATE_LIMIT_WRITES", "rate_limit_writes"),
        ("RATE_LIMIT_RECOVERY", "rate_limit_recovery"),
        ("RATE_LIMIT_SECOND_FACTOR", "rate_limit_second_factor"),
        ("RATE_LIMIT_DRAFTS", "rate_limit_drafts"),
    ):
        if name in env:
            kwargs[key] = RateLimitSpec.parse(name, env[name])
    if "RATE_LIMITS_ENABLED" in env:
        kwargs["rate_limits_enabled"] = _bool("RATE_LIMITS_ENABLED", env["RATE_LIMITS_ENABLED"])
    if "LOG_FORMAT" in env:
        if env["LOG_FORMAT"] not in {"text", "json"}:
            raise ConfigError("LOG_FORMAT must be 'text' or 'json'")
        kwargs["log_format"] = env["LOG_FORMAT"]
    if "PROXY_HEADERS" in env:
        if env["PROXY_HEADERS"] not in PROXY_HEADERS:
            raise ConfigError("PROXY_HEADERS must be 'x-forwarded' or 'forwarded'")
        kwargs["proxy_headers"] = env["PROXY_HEADERS"]
    if env.get("ALLOWED_ORIGINS"):
        kwargs["allowed_origins"] = _origins(env["ALLOWED_ORIGINS"])
    if env.get("ALLOWED_HOSTS"):
        kwargs["allowed_hosts"] = _hosts(env["ALLOWED_HOSTS"])
    if env.get("REDIS_URL"):
        kwargs["redis_url"] = env["REDIS_URL"]
    if env.get("REDIS_PREFIX"):
        kwargs["redis_prefix"] = env["REDIS_PREFIX"]
    if "LOG_LEVEL" in env:
        level = env["LOG_LEVEL"].upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        kwargs["log_level"] = level
    if env.get("INSTANCE_PATH"):
        kwargs["instance_path"] = Path(env["INSTANCE_PATH"]).resolve()
    if env.get("SECRET_KEY"):
        kwargs["secret_key"] = env["SECRET_KEY"]
    if env.get("DATABASE_URL"):
        kwargs["database_url"] = env["DATABASE_URL"]
    if env.get("SEARCH_LANGUAGE"):
        if not re.fullmatch(r"[a-z_]{1,63}", env["SEARCH_LANGUAGE"]):
            raise ConfigError(
                "SEARCH_LANGUAGE must be a PostgreSQL text search configuration's name, "
                "like simple or english"
            )
        kwargs["search_language"] = env["SEARCH_LANGUAGE"]
    kwargs.update(_mail_settings(env))

    settings = Settings(**kwargs)
    if overrides:
        known = {f.name for f in fields(Settings)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = replace(settings, **overrides)
    if settings.argon2_memory_kib < 8 * settings.argon2_parallelism:
        # Argon2 needs 8 KiB per lane; otherwise the first hash fails, at start-up.
        raise ConfigError("ARGON2_MEMORY_KIB must be at least 8 times ARGON2_PARALLELISM")
    if not settings.database_url:
        settings = replace(
            settings, database_url=_sqlite_url(settings.instance_path / "journal.db")
        )
    settings = _with_secret_key(settings)
    if settings.smtp_host and not settings.mail_from:
        raise ConfigError("MAIL_FROM must be set with SMTP_HOST, like journal@example.org")
    if settings.production and not settings.allowed_hosts:
        raise ConfigError(
            "ALLOWED_HOSTS must name the site's host names when QUARTAPP_ENV=production, "
            "like journal.example (requests for any other Host are refused)"
        )
    if settings.production and not settings.site_url:
        raise ConfigError(
            "SITE_URL must be the site's public address when QUARTAPP_ENV=production, like "
            "https://journal.example (links in e-mail messages start with it)"
        )
    return settings


SMTP_TLS_MODES = ("starttls", "tls", "none")


def _mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if env.get("SMTP_HOST"):
        host = env["SMTP_HOST"].strip()
        if not host or any(mark in host for mark in "/@ "):
            raise ConfigError(f"SMTP_HOST takes a host name or address, not {host!r}")
        values["smtp_host"] = host
    if env.get("SMTP_PORT"):
        values["smtp_port"] = _int("SMTP_PORT", env["SMTP_PORT"], 1, 65535)
    for name, key in (("SMTP_USERNAME", "smtp_username"), ("SMTP_PASSWORD", "smtp_password")):
        if env.get(name):
            values[key] = env[name]
    if env.get("SMTP_TLS"):
        if env["SMTP_TLS"] not in SMTP_TLS_MODES:
            raise ConfigError("SMTP_TLS must be 'starttls', 'tls' or 'none'")
        values["smtp_tls"] = env["SMTP_TLS"]
    if env.get("MAIL_FROM"):
        values["mail_from"] = mail_address("MAIL_FROM", env["MAIL_FROM"])
    if env.get("SITE_URL"):
        values["site_url"] = site_url(env["SITE_URL"])
    return values


def mail_address(name: str, text: str) -> str:
    """An address to send from: ``journal@example.org`` or ``Journal <journal@example.org>``."""
    display, address = parseaddr(text)
    if not address or "@" not in address or "\n" in text or "\r" in text:
        raise ConfigError(f"{name} must be an e-mail address, like journal@example.org")
    return formataddr((display, address)) if display else address


def site_url(text: str) -> str:
    """``https://host[:port]``, maybe with a path, without a trailing slash or a query."""
    parts = urlsplit(text.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"SITE_URL must be the site's address, like https://journal.example, not {text!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


_MAKE_A_KEY = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


_HEX = (frozenset("0123456789abcdef"), frozenset("0123456789ABCDEF"))
# The character classes people and key generators draw from, and how many each holds.
_CHARACTER_CLASSES = (
    (frozenset(string.digits), 10),
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.punctuation + " "), 33),
)


def estimated_key_bits(key: str) -> float:
    """At most how many random bits a key can hold, judged from the key alone: the lesser
    of its length times the bits of the alphabet it draws from (hex, digits, letters,
    punctuation...) and its size once compressed, which catches repetition. A random key
    scores its true strength (token_hex(16): 128); 37 × "a" scores 32, "password" five
    times 88. An estimate can only refuse weak keys, never prove a key strong."""
    if not key:
        return 0.0
    characters = set(key)
    alphabet = sum(size for members, size in _CHARACTER_CLASSES if characters & members)
    if any(ord(character) > 127 for character in characters):
        alphabet += 128  # beyond ASCII: generously, any of many more characters
    if any(characters <= hex_digits for hex_digits in _HEX):
        alphabet = min(alphabet, 16)
    data = key.encode()
    # zlib's fixed cost (header, checksum, end of block) is what an empty input compresses to.
    compressed = len(zlib.compress(data, 9)) - len(zlib.compress(b"", 9))
    return min(len(key) * math.log2(alphabet), 8.0 * compressed)


def _with_secret_key(settings: Settings) -> Settings:
    """Check the key in production; in development make one once and keep it (mode 0600)."""
    if settings.production:
        if len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters when QUARTAPP_ENV=production "
                f"({_MAKE_A_KEY})"
            )
        if estimated_key_bits(settings.secret_key) < MIN_SECRET_KEY_BITS:
            raise ConfigError(
                "SECRET_KEY is not random enough (repeated or predictable characters; "
                f"it needs at least {MIN_SECRET_KEY_BITS} bits) when QUARTAPP_ENV=production "
                f"({_MAKE_A_KEY})"
            )
        return settings
    if settings.secret_key:
        return settings
    return replace(settings, secret_key=_development_secret_key(settings.instance_path))


def _development_secret_key(instance_path: Path) -> str:
    """Read the kept key, or make it; the link makes creation atomic across workers."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass  # another worker won the race: use its key
        finally:
            temporary.unlink()
    return key_file.read_text().strip()
