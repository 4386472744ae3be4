"""A real SMTP server on loopback (aiosmtpd, in a thread of its own) that keeps what it
receives, for the tests of outbound mail."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

LINK_RE = re.compile(r"https?://[^\s<>\"']+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Inbox:
    """What the server accepted, and the addresses it refuses."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def settings(self) -> dict[str, Any]:
        """App settings that send through this server."""
        return {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_tls": "none",
            "mail_from": "Journal <journal@example.org>",
            "site_url": "http://localhost",
        }

    async def next_message(self, after: int = 0, within: float = 10.0) -> EmailMessage:
        """The message after the first ``after`` ones, once it has arrived."""
        deadline = time.monotonic() + within
        while True:
            if (message := self._arrived(after, deadline, within)) is not None:
                return message
            await asyncio.sleep(0.02)

    def wait_message(self, after: int = 0, within: float = 10.0) -> EmailMessage:
        """``next_message`` for a test that is not async (the browser tests)."""
        deadline = time.monotonic() + within
        while (message := self._arrived(after, deadline, within)) is None:
            time.sleep(0.02)
        return message

    def _arrived(self, after: int, deadline: float, within: float) -> EmailMessage | None:
        messages = self.messages
        if len(messages) > after:
            return messages[after]
        if time.monotonic() > deadline:
            pytest.fail(f"no message {after + 1} within {within} s ({len(messages)} came)")
        return None


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage), message
    content: str = body.get_content()
    return content


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert isinstance(body, EmailMessage), message
    content: str = body.get_content()
    return content


def links_in(message: EmailMessage) -> list[str]:
    """The links to act on in the plain-text part (not the bare address of the site)."""
    return [link for link in LINK_RE.findall(text_of(message)) if urlsplit(link).path.strip("/")]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
