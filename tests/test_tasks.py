"""Stopping background tasks (quartapp/tasks.py)."""

from __future__ import annotations

import asyncio

from quartapp.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    """What asyncpg can do to a cancel that lands in a commit (asyncpg#873): the task goes
    on as if nothing happened. One cancel and an await would wait for it forever."""
    cancels = 0

    async def loop_that_swallows_the_first_cancel() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels += 1
                if cancels > 1:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(loop_that_swallows_the_first_cancel())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, every=0.05), 5)
    assert task.cancelled()
    assert cancels == 2


async def test_a_task_that_already_ended_or_none_is_fine() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await cancel_and_wait(task)
    await cancel_and_wait(None)
