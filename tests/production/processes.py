"""A server's process group: killing it whole, and seeing whether anything of it is left."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.live.servers import Server

GROUP_GONE_TIMEOUT = 10.0  # seconds for killed processes to disappear


def running_members(group: int) -> list[int]:
    """Processes of the group still running (a zombie has stopped; it only awaits a reaper)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name (field 2) may hold spaces: split after its closing paren.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            state, process_group = fields[0], int(fields[2])
            if process_group == group and state not in {"Z", "X"}:
                members.append(int(stat.parent.name))
    return members


def wait_group_gone(group: int, timeout: float = GROUP_GONE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while members := running_members(group):
        if time.monotonic() > deadline:
            pytest.fail(f"processes {members} of group {group} still run after {timeout}s")
        time.sleep(0.02)


def kill_group(server: Server) -> None:
    """SIGKILL to hypercorn and its worker at once, as a crash or the OOM killer would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(GROUP_GONE_TIMEOUT)
    wait_group_gone(server.process.pid)
