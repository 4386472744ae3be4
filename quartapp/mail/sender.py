"""Delivering the outbox: in every worker, what is due, one claim at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from quartapp.db import Database
from quartapp.mail import outbox
from quartapp.mail.transports import PermanentFailure, Transport
from quartapp.models import OutboxMessage, utcnow
from quartapp.tasks import BackgroundLoop

logger = logging.getLogger("quartapp.mail")

POLL_SECONDS = 5.0  # how soon a message another worker queued is sent, at worst
BATCH = 20  # messages read at once
LEASE = timedelta(minutes=2)  # a claim's life: longer than one delivery can take
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
# 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 12 hours of trying in all.
MAX_ATTEMPTS = 18
# How long a stopping worker lets the message in hand finish: well inside hypercorn's
# graceful_timeout, and a delivery cut short is only sent again after its lease.
STOP_GRACE_SECONDS = 3.0


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    delay: timedelta = FIRST_RETRY * 2 ** min(attempts - 1, 20)
    return min(delay, LONGEST_WAIT)


def email_message(row: OutboxMessage, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id  # the same on a retry: receivers drop repeats
    message["Auto-Submitted"] = "auto-generated"  # no vacation replies to a robot
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


class OutboxSender(BackgroundLoop):
    task_name = "outbox-sender"
    stop_grace = STOP_GRACE_SECONDS

    def __init__(
        self,
        database: Database,
        transport: Transport,
        sender: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__(poll_seconds)
        self.database = database
        self.transport = transport
        self.sender = sender
        self.clock = clock

    async def run(self) -> None:
        """Until stopped: wait for a wake-up (something was queued in this process) or
        the next poll, then send what is due. Waiting first keeps start-up free of it:
        what a previous run left goes within a poll. A stop lets the message in hand
        finish (its row deleted or rescheduled, so the next run does not send it again)."""
        while await self.next_round():
            try:
                await self.send_due()
            except Exception:  # the database is away: the next round tries again
                logger.exception("the outbox could not be read")

    async def send_due(self) -> int:
        """Deliver every message due now (each claimed first); how many were delivered."""
        sent = 0
        while not self.stopping:
            async with self.database.reader() as session:
                ids = await outbox.due(session, self.clock(), BATCH)
            if not ids:
                return sent
            for message_id in ids:
                if self.stopping:
                    return sent  # the rest stay due for the next run, in any worker
                sent += await self._attempt(message_id)
            if len(ids) < BATCH:
                return sent
        return sent

    async def _attempt(self, message_id: int) -> int:
        async with self.database.transaction() as session:
            row = await outbox.claim(session, message_id, self.clock(), LEASE)
        if row is None:
            return 0  # another worker has it
        try:
            await self.transport.deliver(email_message(row, self.sender))
        except PermanentFailure as error:
            await self._give_up(row, f"refused: {error}")
            return 0
        except Exception as error:  # anything else may pass: a server down, a timeout
            reason = f"{type(error).__name__}: {error}"
            if row.attempts >= MAX_ATTEMPTS:
                await self._give_up(row, reason)
            else:
                at = self.clock() + retry_delay(row.attempts)
                async with self.database.transaction() as session:
                    await outbox.retry_later(session, row.id, reason, at)
                logger.warning(
                    "mail %s (attempt %s) not sent, trying again at %s: %s",
                    row.id,
                    row.attempts,
                    at.isoformat(timespec="seconds"),
                    reason,
                )
            return 0
        async with self.database.transaction() as session:
            await outbox.delivered(session, row.id)
        logger.info("mail %s sent (attempt %s)", row.id, row.attempts)
        return 1

    async def _give_up(self, row: OutboxMessage, reason: str) -> None:
        async with self.database.transaction() as session:
            await outbox.given_up(session, row.id, reason, self.clock())
        logger.error(
            "mail %s to be sent to a %s address given up after %s attempts, kept in the "
            "outbox (failed_at): %s",
            row.id,
            row.recipient.rpartition("@")[2],
            row.attempts,
            reason,
        )
