"""Crash safety: ``kill -9`` a real hypercorn during concurrent writes, restart, and check
that every acknowledged entry survived whole and the database is intact.

What a lost write looks like, and why this test sees it (the negative control):

- A writer counts an entry as acknowledged only when its POST was answered ``303`` with
  ``Location: /entries/<id>``. If the app ever answered before its transaction committed
  (a commit handed to a background task, a write-behind cache, a response sent from inside
  the ``transaction()`` block), the kill lands between answer and commit for one of the
  hundreds of entries of a round, and after the restart that id is missing or holds
  another body. While writing this test, a temporary change committing each entry 50 ms
  after its answer made it fail at the first or second restart, on SQLite and PostgreSQL
  ("1 acknowledged entries lost or changed").
- A half-written entry (its row without its ``created`` event, or an event naming no
  entry, as two transactions instead of one would leave) breaks the one-to-one match
  checked between ``entries`` and ``events``: writing the event in a second transaction
  made it fail with "entries without their event: [54, 55, 66]". A torn page or a broken
  index fails ``PRAGMA integrity_check`` (amcheck's ``bt_index_check``, and a sequence
  behind its column, on PostgreSQL). A POST that failed without an answer must be there
  whole (exact body, its HTML, its event) or not at all, and stay so; one refused before
  it was sent must not be there.
- What it cannot see: ``kill -9`` ends the process, not the machine. SQLite has handed
  every committed page to the kernel before ``COMMIT`` returns, and the kernel's page cache
  survives the process, so ``synchronous=OFF`` (no fsync) would pass here: only a power
  cut loses those writes, and that needs a machine to switch off. Likewise PostgreSQL
  itself is not killed, only the app. So this proves that no acknowledgement precedes its
  commit and that a crash mid-transaction leaves nothing half done; ``synchronous=FULL``
  (checked in tests/test_db.py) is what carries that on through a power cut.

Each round restarts the server on the same database, checks everything written so far,
writes again with 16 writers (each its own logged-in user and session), and kills the
whole process group (hypercorn and the worker it spawned) at a random moment. The seed of
the bodies and kill delays is printed; ``CRASH_SEED`` sets it.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import os
import random
import secrets
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.live.servers import CSRF_RE, Browser, Server, start
from tests.production.databases import ScratchDatabase, backends, provisioned
from tests.production.processes import kill_group

ROUNDS = 3
WRITERS = 16
ACKS_BEFORE_KILL = 2 * WRITERS  # writes are flowing from every side by then
KILL_WITHIN = 1.0  # then kill at a random moment within this many seconds
WRITES_TIMEOUT = 30.0  # seconds for the acknowledgements to start coming
FILLER = string.ascii_letters + string.digits + " "


@dataclass
class Ledger:
    """What the writers know about each body they tried to write."""

    author: dict[str, str] = field(default_factory=dict)  # body -> writer's username
    must_exist: dict[str, int] = field(default_factory=dict)  # acknowledged -> entry id
    must_be_absent: set[str] = field(default_factory=set)  # never sent, or found absent
    undetermined: set[str] = field(default_factory=set)  # sent, no answer: either way
    unexpected: list[str] = field(default_factory=list)  # answers other than 303
    stopped: list[str] = field(default_factory=list)  # why each writer stopped
    acknowledged_this_round: int = 0
    unanswered_found: int = 0  # sent, no answer, and committed all the same
    unanswered_absent: int = 0


@dataclass
class Writer:
    browser: Browser
    username: str
    number: int


def unique_body(rng: random.Random, round_: int, writer: Writer, count: int) -> str:
    """Unique, and long enough (up to a few pages) that a torn write would show."""
    marker = f"crash-r{round_}-w{writer.number}-n{count}-{secrets.token_hex(6)}"
    filler = "".join(rng.choices(FILLER, k=rng.randrange(0, 6000))).strip()
    return f"{marker} {filler}" if filler else marker


async def write_until_refused(
    writer: Writer, round_: int, ledger: Ledger, rng: random.Random
) -> None:
    """Post entries back to back until the server is gone (or answers something odd)."""
    _, _, page = await writer.browser.request("GET", "/")
    match = CSRF_RE.search(page)
    assert match is not None, f"no CSRF token for {writer.username}"
    for count in itertools.count():
        body = unique_body(rng, round_, writer, count)
        ledger.author[body] = writer.username
        form = {"csrf_token": match.group(1), "title": "", "body": body, "visibility": "public"}
        try:
            status, headers, page = await writer.browser.request("POST", "/entries", form)
        except ConnectionRefusedError as error:
            ledger.must_be_absent.add(body)  # no connection, so nothing was sent
            ledger.stopped.append(f"{writer.username}: {error!r}")
            return
        except (OSError, http.client.HTTPException) as error:
            ledger.undetermined.add(body)  # reset: the server may have committed it
            ledger.stopped.append(f"{writer.username}: {error!r}")
            return
        location = headers.get("location", "")
        if status != 303 or not location.startswith("/entries/"):
            ledger.unexpected.append(f"{writer.username}: {status} {location} {page[:300]}")
            return
        ledger.must_exist[body] = int(location.rsplit("/", 1)[1])
        ledger.acknowledged_this_round += 1


async def kill_during_writes(
    server: Server, writers: list[Writer], round_: int, ledger: Ledger, rng: random.Random
) -> None:
    ledger.acknowledged_this_round = 0
    ledger.stopped.clear()
    tasks = [
        asyncio.create_task(write_until_refused(writer, round_, ledger, rng)) for writer in writers
    ]
    try:
        await acknowledgements_flowing(tasks, ledger)
        await asyncio.sleep(rng.uniform(0, KILL_WITHIN))
    finally:
        await asyncio.to_thread(kill_group, server)  # always: no writer outlives its round
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    raised = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert not raised, raised
    assert not ledger.unexpected, ledger.unexpected
    print(f"round {round_}: killed after {ledger.acknowledged_this_round} acknowledged writes")


async def acknowledgements_flowing(tasks: list[asyncio.Task[None]], ledger: Ledger) -> None:
    """Wait until every writer is busy and some writes are acknowledged."""
    deadline = time.monotonic() + WRITES_TIMEOUT
    while ledger.acknowledged_this_round < ACKS_BEFORE_KILL:
        if finished := [task for task in tasks if task.done()]:
            errors = [task.exception() for task in finished]
            why = [*ledger.unexpected, *ledger.stopped, *map(repr, errors)]
            pytest.fail(f"a writer stopped before the kill: {why}")
        assert time.monotonic() < deadline, f"only {ledger.acknowledged_this_round} writes"
        await asyncio.sleep(0.01)


async def check_survivors(database: ScratchDatabase, ledger: Ledger) -> None:
    """Everything acknowledged is there, whole; nothing half-written; files intact.

    Then the undetermined writes are settled: found once, an entry must stay; absent
    once, it must never appear (its server is dead).
    """
    entries = await database.entries()
    by_body: dict[str, list[int]] = {}
    for entry in entries:
        by_body.setdefault(entry.body, []).append(entry.id)
    stored = {entry.id: entry for entry in entries}

    missing = [
        (entry_id, body[:40])
        for body, entry_id in ledger.must_exist.items()
        if entry_id not in stored or stored[entry_id].body != body
    ]
    assert not missing, f"{len(missing)} acknowledged entries lost or changed: {missing[:5]}"
    duplicated = {body[:40]: ids for body, ids in by_body.items() if len(ids) > 1}
    assert not duplicated, f"one POST made several entries: {duplicated}"
    known = ledger.must_exist.keys() | ledger.undetermined
    unknown = [(entry.id, entry.body[:40]) for entry in entries if entry.body not in known]
    assert not unknown, f"entries nobody wrote, or written where they were refused: {unknown}"
    wrong_author = [e.id for e in entries if ledger.author[e.body] != e.author]
    assert not wrong_author, f"entries with the wrong author: {wrong_author}"
    unrendered = [e.id for e in entries if e.body.split(" ", 1)[0] not in e.body_html]
    assert not unrendered, f"entries stored without their HTML: {unrendered}"

    problems = await database.event_problems() + await database.integrity_problems()
    assert not problems, problems

    for body in ledger.undetermined:
        if body in by_body:
            ledger.must_exist[body] = by_body[body][0]
            ledger.unanswered_found += 1
        else:
            ledger.must_be_absent.add(body)
            ledger.unanswered_absent += 1
    ledger.undetermined.clear()


async def restart_and_check(servers: Servers, ledger: Ledger, writers: list[Writer]) -> Server:
    server = await servers.start_ready()
    status, _, answer = await Browser(server.port).request("GET", "/readyz")
    assert status == 200, answer
    await check_survivors(servers.database, ledger)
    for writer in writers:  # the same users and cookies, on the new port
        writer.browser = Browser(server.port, cookies=writer.browser.cookies)
    return server


@dataclass
class Servers:
    """The servers of the test, one after the other on its database, each registered as it
    starts so that every one is stopped at the end."""

    database: ScratchDatabase
    tmp_path: Path
    started: list[Server] = field(default_factory=list)

    async def start_ready(self) -> Server:
        environment = {
            "DATABASE_URL": self.database.url,
            "INSTANCE_PATH": str(self.tmp_path / "instance"),
        }
        server = start(f"server-{len(self.started)}", self.tmp_path, environment)
        self.started.append(server)
        await asyncio.to_thread(server.wait_ready)
        return server


@contextmanager
def stopped_at_end(database: ScratchDatabase, tmp_path: Path) -> Iterator[Servers]:
    servers = Servers(database, tmp_path)
    try:
        yield servers
    finally:
        for server in servers.started:
            server.stop()
            print(f"----- {server.name} (exit {server.process.returncode}) -----\n{server.log()}")


@pytest.fixture
def seeded_rng() -> random.Random:
    seed = int(os.environ.get("CRASH_SEED") or secrets.randbelow(2**32))
    print(f"CRASH_SEED={seed}")
    return random.Random(seed)


@pytest.mark.usefixtures("enough_threads")
@pytest.mark.parametrize("backend", backends())
async def test_acknowledged_entries_survive_kill_9(
    backend: str, tmp_path: Path, seeded_rng: random.Random
) -> None:
    began = time.monotonic()
    async with provisioned(backend, tmp_path) as database:
        with stopped_at_end(database, tmp_path) as servers:
            first = await servers.start_ready()
            writers = [
                Writer(Browser(first.port), f"writer{number}", number) for number in range(WRITERS)
            ]
            await asyncio.gather(*(writer.browser.register(writer.username) for writer in writers))

            ledger = Ledger()
            server = first
            for round_ in range(ROUNDS):
                if round_ > 0:
                    server = await restart_and_check(servers, ledger, writers)
                await kill_during_writes(server, writers, round_, ledger, seeded_rng)
            await restart_and_check(servers, ledger, writers)

            assert len(ledger.must_exist) >= ROUNDS * ACKS_BEFORE_KILL
            print(
                f"{backend}: {len(ledger.must_exist)} entries kept, "
                f"{len(ledger.must_be_absent)} writes absent as they should be; of the POSTs "
                f"cut off by a kill {ledger.unanswered_found} were stored whole and "
                f"{ledger.unanswered_absent} not at all; "
                f"in {time.monotonic() - began:.1f}s"
            )
