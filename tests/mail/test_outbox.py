"""The outbox and its sender (quartapp/mail/), against a real SMTP server on loopback and
a real migrated database: written with the change, delivered after, never lost."""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from quartapp.db import Database, after_commit
from quartapp.mail import OutboxSender, outbox
from quartapp.mail.sender import MAX_ATTEMPTS, retry_delay
from quartapp.mail.transports import FileTransport, SmtpTransport
from quartapp.models import OutboxMessage, utcnow
from tests.database import TestDatabase, opened
from tests.smtp import SmtpServer, html_of, smtp_server, text_of

__all__ = ["smtp_server"]  # the fixture, imported for this module's tests

SENDER = "Journal <journal@example.org>"


class Clock:
    """Now, moved by hand; it starts just after the messages the test queues."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
async def database(test_database: TestDatabase) -> AsyncIterator[Database]:
    async with opened(test_database.url) as database:
        yield database


def message(to: str = "ada@example.org", number: int = 1) -> OutboxMessage:
    now = utcnow()
    return OutboxMessage(
        recipient=to,
        subject=f"Message {number}",
        text_body=f"Hello, number {number}.\nhttp://localhost/confirm/abc{number}\n",
        html_body=f"<p>Hello, number {number}.</p>",
        message_id=f"<{number}.test@example.org>",
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )


async def queue(database: Database, *messages: OutboxMessage) -> None:
    async with database.transaction() as session:
        for item in messages:
            outbox.add(session, item)


async def rows(database: Database) -> list[OutboxMessage]:
    async with database.reader() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def until_the_outbox_is_empty(database: Database, within: float = 10) -> None:
    """The message arrives before the sender deletes its row: a sender cancelled in that
    transaction would leave its connection holding the row's lock (on PostgreSQL)."""
    deadline = asyncio.get_running_loop().time() + within
    while await rows(database):
        assert asyncio.get_running_loop().time() < deadline, "the sender kept the message"
        await asyncio.sleep(0.02)


def smtp_to(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", server.port, "", "", "none")


async def test_a_message_is_delivered_with_both_parts_and_then_forgotten(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue(database, message())
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER)
    assert await sender.send_due() == 1
    (received,) = smtp_server.messages
    assert received["To"] == "ada@example.org"
    assert received["From"] == SENDER
    assert received["Subject"] == "Message 1"
    assert received["Message-ID"] == "<1.test@example.org>"
    assert received["Auto-Submitted"] == "auto-generated"
    assert "http://localhost/confirm/abc1" in text_of(received)
    assert html_of(received).strip() == "<p>Hello, number 1.</p>"
    assert await rows(database) == []  # the link in it is not kept


async def test_a_message_exists_only_if_its_change_commits(database: Database) -> None:
    woken: list[str] = []

    async def fail_after_queueing() -> None:
        async with database.transaction() as session:
            outbox.add(session, message())
            after_commit(session, lambda: woken.append("rolled back"))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await fail_after_queueing()
    assert await rows(database) == []
    assert woken == []
    async with database.transaction() as session:
        outbox.add(session, message())
        after_commit(session, lambda: woken.append("committed"))
        assert woken == []  # not before the commit
    assert woken == ["committed"]
    assert len(await rows(database)) == 1


async def test_while_smtp_is_down_the_message_waits_and_goes_once_it_is_back(
    database: Database, smtp_server: SmtpServer
) -> None:
    clock = Clock()
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER, clock=clock)
    smtp_server.stop()
    await queue(database, message())
    assert await sender.send_due() == 0
    (waiting,) = await rows(database)
    assert waiting.attempts == 1
    assert waiting.failed_at is None
    assert waiting.locked_until is None
    assert waiting.next_attempt_at == clock.now + retry_delay(1)
    assert waiting.last_error is not None
    assert "Connect" in waiting.last_error
    assert await sender.send_due() == 0  # not due yet: no second attempt
    assert (await rows(database))[0].attempts == 1

    smtp_server.start()
    clock.advance(retry_delay(1))
    assert await sender.send_due() == 1
    assert [item["Subject"] for item in smtp_server.messages] == ["Message 1"]
    assert await rows(database) == []


async def test_the_waits_grow_then_stay_at_an_hour() -> None:
    assert [retry_delay(attempt).total_seconds() for attempt in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


async def test_a_message_that_keeps_failing_is_logged_and_kept(
    database: Database, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER, clock=clock)
    smtp_server.stop()
    await queue(database, message())
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await sender.send_due()
        clock.advance(retry_delay(attempt))
    (kept,) = await rows(database)
    assert kept.attempts == MAX_ATTEMPTS
    assert kept.failed_at is not None
    assert "given up" in caplog.text
    assert "kept in the outbox" in caplog.text
    assert "ada@" not in caplog.text  # the address's domain only
    smtp_server.start()
    clock.advance(timedelta(days=1))
    assert await sender.send_due() == 0  # never again by itself
    assert smtp_server.messages == []


async def test_a_recipient_refused_for_good_is_not_retried(
    database: Database, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.inbox.refused.add("nobody@example.org")
    await queue(database, message("nobody@example.org", 1), message("ada@example.org", 2))
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER)
    assert await sender.send_due() == 1
    (kept,) = await rows(database)
    assert (kept.recipient, kept.attempts) == ("nobody@example.org", 1)
    assert kept.failed_at is not None
    assert kept.last_error is not None
    assert "550" in kept.last_error
    assert [item["Subject"] for item in smtp_server.messages] == ["Message 2"]
    assert "given up after 1 attempts" in caplog.text


async def test_two_workers_send_each_message_once(
    database: Database, test_database: TestDatabase, smtp_server: SmtpServer
) -> None:
    async with opened(test_database.url) as other:
        await queue(database, *(message(number=number) for number in range(1, 31)))
        senders = [
            OutboxSender(database, smtp_to(smtp_server), SENDER),
            OutboxSender(other, smtp_to(smtp_server), SENDER),
        ]
        counts = await asyncio.gather(*(sender.send_due() for sender in senders))
    assert sum(counts) == 30
    subjects = sorted(item["Subject"] for item in smtp_server.messages)
    assert subjects == sorted(f"Message {number}" for number in range(1, 31))


async def test_a_claimed_message_is_taken_over_when_its_sender_stopped(
    database: Database, smtp_server: SmtpServer
) -> None:
    """A worker that claimed a message and died: another sends it once the claim ran out."""
    clock = Clock()
    await queue(database, message())
    async with database.transaction() as session:
        (message_id,) = await outbox.due(session, clock(), 10)
        assert await outbox.claim(session, message_id, clock(), timedelta(minutes=2))
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER, clock=clock)
    assert await sender.send_due() == 0  # still claimed
    clock.advance(timedelta(minutes=2, seconds=1))
    assert await sender.send_due() == 1


async def test_starttls_is_required_not_hoped_for(
    database: Database, smtp_server: SmtpServer
) -> None:
    """The loopback server offers no STARTTLS: with SMTP_TLS=starttls nothing is sent in
    the clear (neither the message nor any password); the message waits."""
    await queue(database, message())
    transport = SmtpTransport("127.0.0.1", smtp_server.port, "journal", "s3cret", "starttls")
    assert await OutboxSender(database, transport, SENDER).send_due() == 0
    assert smtp_server.messages == []
    (waiting,) = await rows(database)
    assert waiting.last_error is not None
    assert "STARTTLS" in waiting.last_error


async def test_the_sender_wakes_when_woken_and_polls_otherwise(
    database: Database, smtp_server: SmtpServer
) -> None:
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER, poll_seconds=60)
    sender.start()
    try:
        await asyncio.sleep(0.1)  # it waits a minute unless woken
        async with database.transaction() as session:
            outbox.add(session, message())
            after_commit(session, sender.wake)
        received = await smtp_server.next_message(within=5)
        assert received["Subject"] == "Message 1"
        await until_the_outbox_is_empty(database)
    finally:
        await sender.stop()


async def test_without_smtp_messages_are_files_and_links_are_logged_in_development(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "quartapp.mail")
    folder = tmp_path / "outbox"
    await queue(database, message())
    assert await OutboxSender(database, FileTransport(folder, log_links=True), SENDER).send_due()
    (written,) = folder.glob("*.eml")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert b"Subject: Message 1" in written.read_bytes()
    assert "Message 1 http://localhost/confirm/abc1" in caplog.text

    caplog.clear()
    await queue(database, message(number=2))
    assert await OutboxSender(database, FileTransport(folder, log_links=False), SENDER).send_due()
    assert len(list(folder.glob("*.eml"))) == 2
    assert "abc2" not in caplog.text  # production: links sign people in; never in a log


async def test_the_table_is_empty_when_everything_went(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue(database, *(message(number=number) for number in range(1, 46)))  # > a batch
    assert await OutboxSender(database, smtp_to(smtp_server), SENDER).send_due() == 45
    async with database.reader() as session:
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0


async def test_what_a_previous_run_left_goes_at_the_first_poll(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue(database, message())
    sender = OutboxSender(database, smtp_to(smtp_server), SENDER, poll_seconds=0.2)
    sender.start()
    try:
        received = await smtp_server.next_message(within=5)
        assert received["Subject"] == "Message 1"
        await until_the_outbox_is_empty(database)
    finally:
        await sender.stop()


class HeldTransport:
    """SMTP to the loopback server, each delivery held until the test lets it go."""

    def __init__(self, server: SmtpServer) -> None:
        self.smtp = smtp_to(server)
        self.started = asyncio.Event()
        self.released = asyncio.Event()

    async def deliver(self, email: EmailMessage) -> None:
        self.started.set()
        await self.released.wait()
        await self.smtp.deliver(email)


async def test_a_stopping_sender_finishes_the_message_in_hand_and_leaves_the_rest(
    database: Database, smtp_server: SmtpServer
) -> None:
    """Stopping mid-batch: the message being sent is sent and its row deleted (so the
    next run does not send it twice); the others wait, unclaimed, for the next run."""
    await queue(database, *(message(number=number) for number in (1, 2, 3)))
    transport = HeldTransport(smtp_server)
    sender = OutboxSender(database, transport, SENDER, poll_seconds=0.05)
    sender.start()
    await asyncio.wait_for(transport.started.wait(), 5)
    stopping = asyncio.create_task(sender.stop(grace=30))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # it waits for the delivery in hand
    transport.released.set()
    await asyncio.wait_for(stopping, 10)

    assert [item["Subject"] for item in smtp_server.messages] == ["Message 1"]
    assert [(row.subject, row.attempts) for row in await rows(database)] == [
        ("Message 2", 0),
        ("Message 3", 0),
    ]
    assert await OutboxSender(database, smtp_to(smtp_server), SENDER).send_due() == 2
    subjects = [item["Subject"] for item in smtp_server.messages]
    assert subjects == ["Message 1", "Message 2", "Message 3"]


async def test_a_delivery_that_outlasts_the_grace_is_cancelled(
    database: Database, smtp_server: SmtpServer
) -> None:
    """A server that never answers cannot hold the shutdown: after the grace the sender
    is cancelled; the message stays claimed, and goes again when the lease ends."""
    await queue(database, message())
    transport = HeldTransport(smtp_server)  # never released
    sender = OutboxSender(database, transport, SENDER, poll_seconds=0.05)
    sender.start()
    await asyncio.wait_for(transport.started.wait(), 5)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(sender.stop(grace=0.3), 5)
    assert asyncio.get_running_loop().time() - started < 2
    (claimed,) = await rows(database)
    assert claimed.attempts == 1
    assert smtp_server.messages == []
