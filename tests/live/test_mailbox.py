"""A connection's mailbox: bounded, in order, and its sender wakes for each item."""

from __future__ import annotations

import asyncio

from quartapp.live.mailbox import Close, Mailbox


async def test_items_come_out_in_order_and_a_full_mailbox_refuses() -> None:
    mailbox = Mailbox(2)
    assert mailbox.put((1, "a"))
    assert mailbox.put((2, "b"))
    assert not mailbox.put((3, "c"))  # full: nothing queued
    assert len(mailbox) == 2
    assert await mailbox.get() == (1, "a")
    assert await mailbox.get() == (2, "b")
    assert len(mailbox) == 0


async def test_a_waiting_sender_wakes_when_an_item_arrives() -> None:
    mailbox = Mailbox(4)
    getter = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    assert not getter.done()  # nothing to send yet
    mailbox.put(Close(1001, "bye"))
    assert await asyncio.wait_for(getter, 1) == Close(1001, "bye")


async def test_a_cancelled_sender_leaves_the_mailbox_usable() -> None:
    mailbox = Mailbox(4)
    getter = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    await asyncio.gather(getter, return_exceptions=True)
    mailbox.put((5, "e"))  # no waiter left to wake: must not fail
    assert await asyncio.wait_for(mailbox.get(), 1) == (5, "e")


async def test_clear_drops_everything() -> None:
    mailbox = Mailbox(4)
    mailbox.put((1, "a"))
    mailbox.put((2, "b"))
    mailbox.clear()
    assert len(mailbox) == 0
