"""The app without some of its reaches into other libraries' private code, for the benches.

The project relies on a few private details of hypercorn, SQLAlchemy's aiosqlite adapter
and multiprocessing. Each has a name here and a stand-in that does what the app would do
without it, so that a bench can measure what each buys, with and without it, on the same
machine in the same run. hypercorn loads ``create_app()`` from this file in every worker
it spawns (given ``bench/variants.py:create_app()``, it puts ``bench/`` on the worker's
``sys.path`` and imports ``variants``), which replaces the reaches named in
``QUARTAPP_BENCH_WITHOUT`` before it builds the app.

A replaced name is set on its module, and every ``quartapp`` module that had imported it
with ``from ... import`` gets the stand-in too (found by identity), so the app calls the
stand-in whether it looks the name up at call time or bound it at import. Each worker writes
one line per replaced reach to its stderr (the server log) and another when the stand-in is
first called: ``serving.hypercorn`` waits for the first from every worker, and reports both.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import re
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

    import aiosqlite
    from hypercorn.typing import ASGISendCallable
    from quart import Quart

VARIABLE = "QUARTAPP_BENCH_WITHOUT"
APP = "bench/variants.py:create_app()"  # hypercorn's path to this factory, from the root
MARK = "bench-variant"
_LINE = re.compile(rf"{MARK} pid=(\d+) without=(\S+) (replaced|called)\b")

Variant = tuple[str, ...]  # the reaches turned off, sorted; () is the app as it is
P = ParamSpec("P")
R = TypeVar("R")


# --- the stand-ins -------------------------------------------------------------------------


def no_direct_writer(send: ASGISendCallable) -> None:
    """No socket gets a direct writer: every event goes through hypercorn's ASGI send."""
    return None


def accept_compression(send: ASGISendCallable) -> None:
    """Nothing declined: hypercorn negotiates permessage-deflate when the client offers it."""


def stock_connector(url: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """A plain ``aiosqlite.Connection`` with the connect arguments the project's connector
    reads from the URL: SQLAlchemy's adapter makes its usual trips to aiosqlite's thread."""
    import aiosqlite
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)

    async def connect() -> aiosqlite.Connection:
        connection = aiosqlite.connect(*args, **kwargs)
        connection._thread.daemon = True  # as SQLAlchemy and the project's connector do
        return await connection

    return connect


def no_shutdown_event() -> ProcessEvent | None:
    """The worker does not see hypercorn's shutdown event: the app hears of the shutdown
    only when hypercorn ends the lifespan, after ``graceful_timeout``."""
    return None


def keep_ping_loops() -> None:
    """hypercorn's ping loops go on sleeping, holding their connections open."""


def keep_connection_cycles() -> None:
    """hypercorn serves connections with its own ``TCPServer``: a closed connection stays in
    its reference cycles until a full garbage collection, and a websocket's until its ping
    loop wakes."""


@dataclass(frozen=True)
class Reach:
    module: str
    attribute: str
    stand_in: Callable[..., Any]


REACHES = {
    "direct-writes": Reach("quartapp.live.direct", "direct_writer", no_direct_writer),
    "decline-compression": Reach("quartapp.live.direct", "decline_compression", accept_compression),
    "sqlite-trips": Reach("quartapp.sqlite_trips", "connector", stock_connector),
    "shutdown-event": Reach(
        "quartapp.live.shutdown", "hypercorn_shutdown_event", no_shutdown_event
    ),
    "ping-cancel": Reach("quartapp.live.shutdown", "end_ping_loops", keep_ping_loops),
    "release-connections": Reach("quartapp.live.release", "install", keep_connection_cycles),
}


# --- in the worker -------------------------------------------------------------------------


def _say(name: str, what: str) -> None:
    print(f"{MARK} pid={os.getpid()} without={name} {what}", file=sys.stderr, flush=True)


def _announced(name: str, stand_in: Callable[P, R]) -> Callable[P, R]:
    """The stand-in, saying so the first time the app calls it: the patch took effect."""
    called = False

    @functools.wraps(stand_in)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal called
        if not called:
            called = True
            _say(name, "called")
        return stand_in(*args, **kwargs)

    return call


def _rebind(original: object, stand_in: object) -> list[str]:
    """Put the stand-in wherever a loaded quartapp module still holds the original (bound
    by ``from ... import`` before the patch); the names it replaced."""
    copies = []
    for module_name, module in list(sys.modules.items()):
        if module_name != "quartapp" and not module_name.startswith("quartapp."):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, stand_in)
                copies.append(f"{module_name}.{attribute}")
    return copies


def apply(names: Iterable[str]) -> None:
    """Replace the named reaches in this process."""
    for name in names:
        reach = REACHES[name]
        module = importlib.import_module(reach.module)
        if not hasattr(module, reach.attribute):
            raise RuntimeError(
                f"{name}: {reach.module} has no {reach.attribute} (renamed?): "
                "bench/variants.py needs updating"
            )
        original = getattr(module, reach.attribute)
        stand_in = _announced(name, reach.stand_in)
        setattr(module, reach.attribute, stand_in)
        copies = _rebind(original, stand_in)
        also = f" (also where it was imported: {', '.join(copies)})" if copies else ""
        _say(name, f"replaced {reach.module}.{reach.attribute}{also}")


def create_app() -> Quart:
    """hypercorn's app factory: ``quartapp.create_app()`` without the reaches named in
    ``QUARTAPP_BENCH_WITHOUT`` (comma-separated; an unknown name stops the worker)."""
    apply(parse(os.environ.get(VARIABLE, "")))
    import quartapp

    return quartapp.create_app()


# --- in the bench --------------------------------------------------------------------------


def parse(text: str) -> Variant:
    """``a,b`` as a variant; unknown names are an error."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - REACHES.keys()
    if unknown:
        raise ValueError(f"unknown reach {', '.join(sorted(unknown))}; known: {', '.join(REACHES)}")
    return tuple(sorted(names))


def _option(text: str) -> Variant:
    try:
        return parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--without`` and ``--compare``, the same in every bench."""
    known = ", ".join(REACHES)
    parser.add_argument(
        "--without", type=_option, default=(), metavar="NAME[,NAME]",
        help=f"serve the app without these reaches into private code ({known})",
    )  # fmt: skip
    parser.add_argument(
        "--compare", type=_option, action="append", default=[], metavar="NAME[,NAME]",
        help="also serve it without these (on top of --without), alternating run by run "
        "with the app as --without leaves it, in one table; may be repeated",
    )  # fmt: skip


def chosen(args: argparse.Namespace) -> list[Variant]:
    """The variants to run, in the order to alternate them: the base, then each compared."""
    base: Variant = args.without
    variants = [base]
    for names in args.compare:
        variant = tuple(sorted({*base, *names}))
        if variant not in variants:
            variants.append(variant)
    return variants


def in_turn(variants: Sequence[Variant], round_: int) -> list[tuple[int, Variant]]:
    """The variants (with their index) in the order of one round of runs: every other round
    reversed (A B, B A, A B...), so that neither always runs first, on a warmer machine."""
    order = list(enumerate(variants))
    return order if round_ % 2 == 0 else order[::-1]


def label(variant: Variant) -> str:
    return "without " + " + ".join(variant) if variant else "as is"


def _first(variants: Sequence[Variant], variant: Variant | None) -> list[str]:
    """The variant column's cell (the header's for None); no column when every run serves
    the app as is, so the benches' tables stay as they were."""
    if not any(variants):
        return []
    return ["variant" if variant is None else label(variant)]


def table_head(variants: Sequence[Variant], columns: Sequence[str]) -> str:
    """A markdown table's header and separator lines."""
    names = [*_first(variants, None), *columns]
    return "| " + " | ".join(names) + " |\n" + "|---" * len(names) + "|"


def table_row(variants: Sequence[Variant], variant: Variant, cells: Sequence[str]) -> str:
    """A markdown table's row for a run of ``variant``."""
    return "| " + " | ".join([*_first(variants, variant), *cells]) + " |"


def workers_saying(log: Path) -> dict[tuple[str, str], set[int]]:
    """From a server's log: the pids that replaced, and that called, each reach's stand-in,
    keyed by (name, "replaced" or "called")."""
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    with open(log, "rb") as lines:
        for line in lines:
            if line.startswith(MARK.encode()):
                match = _LINE.match(line.decode(errors="replace"))
                if match:
                    found[match.group(2), match.group(3)].add(int(match.group(1)))
    return found
