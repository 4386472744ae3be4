"""Live updates: events written with each change, fanned out over websockets."""

from __future__ import annotations

from quart import current_app


async def notify() -> None:
    """Call after committing a transaction that recorded events."""
    from quartapp.live.hub import Hub

    hub: Hub = current_app.extensions["live_hub"]
    await hub.notify()
