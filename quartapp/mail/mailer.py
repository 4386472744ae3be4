"""Composing a message and putting it in the outbox, inside the caller's transaction."""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from quart import current_app, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.config import Settings
from quartapp.db import after_commit
from quartapp.mail import outbox
from quartapp.mail.sender import OutboxSender
from quartapp.models import OutboxMessage, utcnow

NO_REPLY = "journal@localhost"  # the sender of the .eml files when no MAIL_FROM is set


class Mailer:
    def __init__(self, settings: Settings, sender: OutboxSender) -> None:
        self.settings = settings
        self.sender = sender

    @property
    def configured(self) -> bool:
        """Whether messages leave this machine (SMTP_HOST): only then must people prove
        they read an address before it counts."""
        return self.settings.mail_configured

    def base_url(self) -> str:
        """Where links start: SITE_URL, or in development without it the address the
        current request came in on (in a request only)."""
        return self.settings.site_url or request.host_url.rstrip("/")

    def link(self, endpoint: str, base_url: str | None = None, **values: Any) -> str:
        """An absolute link for a message (built from the routes alone, so it works in a
        background task too, given ``base_url``)."""
        path = current_app.url_map.bind("").build(endpoint, values)
        return (base_url or self.base_url()) + path

    async def queue(
        self,
        session: AsyncSession,
        *,
        to: str,
        subject: str,
        template: str,
        base_url: str | None = None,
        **context: Any,
    ) -> None:
        """Write a message from ``template``.txt and .html (under ``templates/``) in this
        transaction; the sender is woken once it commits."""
        context = {"site_url": base_url or self.base_url(), **context}
        now = utcnow()
        outbox.add(
            session,
            OutboxMessage(
                recipient=to,
                subject=subject,
                text_body=await render_template(f"{template}.txt", **context),
                html_body=await render_template(f"{template}.html", **context),
                message_id=make_msgid(domain=self._domain()),
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            ),
        )
        after_commit(session, self.sender.wake)

    def _domain(self) -> str:
        address = parseaddr(self.settings.mail_from)[1]
        if "@" in address:
            return address.rpartition("@")[2]
        return urlsplit(self.settings.site_url).hostname or "localhost"


def sender_address(settings: Settings) -> str:
    return settings.mail_from or NO_REPLY
