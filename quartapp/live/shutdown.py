"""Closing every live socket with 1001 as soon as the server is told to stop.

hypercorn tells an app that it is stopping only after ``graceful_timeout``, and then
cancels the websockets still open with 1011. Clients should instead hear 1001 ("going
away") at once, so they reconnect to another worker or host. Two signals reach a worker:
a SIGTERM sent to it (systemd signals the whole process group, and so does Ctrl-C), and
the event hypercorn's parent process sets when it gets the SIGTERM itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import AsyncIterator, Callable
from multiprocessing.synchronize import Event as ProcessEvent
from types import FrameType
from typing import Protocol

from quartapp.tasks import cancel_and_wait

HYPERCORN_PING_LOOP = "WSStream._send_pings"
SHUTDOWN_POLL = 0.1  # seconds; as often as hypercorn itself looks at the event


class GoingAway(Protocol):
    def going_away(self) -> None: ...


def close_on_sigterm(hub: GoingAway) -> Callable[[], None]:
    """On SIGTERM, close the sockets first, then run the handler that was there before.

    A Python-level handler leaves the event loop's own (hypercorn's, when it runs the app
    in this process) in place: the loop hears of the signal through its wake-up fd. In a
    worker hypercorn spawned there is none, and SIGTERM no longer ends the process at once:
    it closes the sockets and hypercorn's shutdown event stops the worker. Returns what
    puts the previous handler back.
    """
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)

    def handle(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(_go_away, hub)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handle)

    def restore() -> None:
        # None: the handler was not set from Python; the default is the closest there is.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

    return restore


def hypercorn_shutdown_event() -> ProcessEvent | None:
    """The event hypercorn's parent process sets on SIGTERM, in a worker it spawned.

    The ``hypercorn`` command always runs the app in spawned workers (``workers = 1``
    too). Only the parent gets a SIGTERM sent to its pid (``kill``, docker, kubernetes);
    the worker polls this event, then waits ``graceful_timeout`` for open connections
    before the app hears of it. hypercorn hands the event to its worker as a keyword
    argument of the process, which is not part of its API (docs/INTERNALS.md). None
    anywhere else (``hypercorn.asyncio.serve``, tests).
    """
    kwargs = getattr(multiprocessing.current_process(), "_kwargs", None)
    event = kwargs.get("shutdown_event") if isinstance(kwargs, dict) else None
    return event if isinstance(event, ProcessEvent) else None


def end_ping_loops() -> None:
    """The sockets are closing: end hypercorn's ping loop of each.

    hypercorn 0.18 keeps a websocket's connection open until its ping loop wakes from its
    ``websocket_ping_interval`` sleep, even after the socket closed, so every shutdown
    waited out ``graceful_timeout``. Without those sleeps it ends as soon as the requests
    in flight are answered. A private detail of hypercorn (docs/INTERNALS.md):
    tests/production/test_graceful_restart.py fails if it stops working.
    """
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", None) == HYPERCORN_PING_LOOP:
            task.cancel()


async def _going_away_on(event: ProcessEvent, hub: GoingAway) -> None:
    # A process-shared event can only be polled; is_set() holds its lock for an instant.
    while not event.is_set():  # noqa: ASYNC110
        await asyncio.sleep(SHUTDOWN_POLL)
    _go_away(hub)


def _go_away(hub: GoingAway) -> None:
    hub.going_away()
    end_ping_loops()


@contextlib.asynccontextmanager
async def going_away_on_shutdown(hub: GoingAway) -> AsyncIterator[None]:
    """While serving: close the hub's sockets with 1001 on SIGTERM or hypercorn's event."""
    restore: Callable[[], None] | None = None
    with contextlib.suppress(ValueError):  # not the main thread: no signals here
        restore = close_on_sigterm(hub)
    watcher = None
    if (event := hypercorn_shutdown_event()) is not None:
        watcher = asyncio.create_task(_going_away_on(event, hub), name="live-shutdown")
    try:
        yield
    finally:
        await cancel_and_wait(watcher)
        if restore is not None:
            restore()
