"""A serving app tunes the garbage collector for many long-lived sockets."""

from __future__ import annotations

import gc

from quart import Quart

from quartapp import GC_YOUNG_THRESHOLD


async def test_serving_sets_the_young_threshold_and_freezes_start_up(app: Quart) -> None:
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0  # what start-up loaded is never scanned again


async def test_freezing_happens_once_a_process(app: Quart, make_app: object) -> None:
    frozen = gc.get_freeze_count()
    another: Quart = make_app()  # type: ignore[operator]
    async with another.test_app():
        assert gc.get_freeze_count() == frozen  # this app's objects stay collectable
