"""Where a message goes: an SMTP server, or (without one) a file under the instance folder."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from quartapp.config import Settings

logger = logging.getLogger("quartapp.mail")

SMTP_TIMEOUT = 30.0  # seconds for each step of one delivery
LINK_RE = re.compile(r"https?://[^\s<>\"']+")


class PermanentFailure(Exception):
    """The server refused the message for good (every recipient with a 5xx): do not retry."""


class Transport(Protocol):
    async def deliver(self, message: EmailMessage) -> None:
        """Send it, or raise: ``PermanentFailure`` if trying again cannot help."""


class SmtpTransport:
    """``aiosmtplib``, one connection a message (a few messages an hour, not a stream)."""

    def __init__(self, host: str, port: int, username: str, password: str, tls: str) -> None:
        self.host = host
        self.port = port
        self.username = username or None
        self.password = password or None
        self.tls = tls

    async def deliver(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls == "tls",
                # Required, not opportunistic: credentials never cross in the clear.
                start_tls=self.tls == "starttls",
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if all(500 <= refused.code < 600 for refused in error.recipients):
                raise PermanentFailure(str(error)) from error
            raise


class FileTransport:
    """Each message as an ``.eml`` file (mode 0600: links in it sign people in), and in
    development its subject and links in the log, for a site without SMTP."""

    def __init__(self, directory: Path, log_links: bool) -> None:
        self.directory = directory
        self.log_links = log_links

    async def deliver(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        if self.log_links:
            body = message.get_body(("plain",))
            text = body.get_content() if isinstance(body, EmailMessage) else ""
            logger.info(
                "mail (no SMTP_HOST) to %s: %s %s; written to %s",
                message["To"],
                message["Subject"],
                " ".join(LINK_RE.findall(text)),
                path,
            )

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{secrets.token_hex(8)}.eml"
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        path = self.directory / name
        temporary.rename(path)
        return path


def transport_for(settings: Settings) -> Transport:
    if settings.mail_configured:
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_tls,
        )
    return FileTransport(settings.instance_path / "outbox", log_links=not settings.production)
