"""Benchmark: clients flooding ``/ws`` with frames. Not a test; prints a table.

Starts the app under hypercorn (``hypercorn.toml``, one worker) on a fresh SQLite database
with ``--entries`` entries, so a client that sends ``{"since": 0}`` makes the server render
and replay that many cards. ``--clients`` clients then each send ``since`` and flood frames
as fast as the server takes them for ``--seconds``, without reading a thing:

- ``pings``: ``{"type": "ping"}`` frames (the only frame the protocol allows later);
- ``big``: 4,000-byte frames (under the 4 KiB limit, so hypercorn passes them on), sent
  while the server is busy with the replay and not reading.

Meanwhile another process asks ``/healthz`` every 50 ms. Reported: the bytes the server took from
the clients (mostly what the kernels' buffers took), the close codes they got (None: the
connection was cut or the close never came), ``/healthz`` latency, the worker's resident
memory before, at its peak and 12 s after the clients went, and how many of their sockets
the worker still holds open then.

    .venv/bin/python bench/ws_inbound.py --mode pings
    .venv/bin/python bench/ws_inbound.py --mode big --entries 300 --clients 20 --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import tempfile
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from live_bench import OP_TEXT, Writer, client_frame, server
from serving import Server, cpu_seconds

AFTER = 12.0  # seconds: past the 10 s a closed socket may take to go
FRAMES = {
    "pings": client_frame(OP_TEXT, b'{"type": "ping"}'),
    "big": client_frame(OP_TEXT, b"[" + b"0," * 1999 + b"0]"),  # 4,000 bytes of JSON
}


def open_sockets(pid: int) -> int:
    """Sockets the process holds open: the listener, and connections hypercorn still has."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed as it was listed
            count += os.readlink(fd).startswith("socket:")
    return count


def memory_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


async def flooder(port: int, frame: bytes, seconds: float) -> tuple[int, int | None]:
    """Bytes the server took from this client, and the close code it sent (None: none)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.write(client_frame(OP_TEXT, json.dumps({"since": 0}).encode()))
    sent = 0
    burst = frame * 64
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            writer.write(burst)
            try:
                await asyncio.wait_for(writer.drain(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break  # the server stopped taking them: its buffers and the kernel's are full
            sent += len(burst)
    except ConnectionError:
        pass
    unsent = writer.transport.get_write_buffer_size()
    code = None
    try:
        data = await asyncio.wait_for(reader.read(1 << 20), 1)
        # The server's frames are unmasked: a close frame is 0x88, length, then the code.
        at = data.find(b"\x88")
        if at >= 0 and len(data) >= at + 4:
            code = int.from_bytes(data[at + 2 : at + 4], "big")
    except (TimeoutError, ConnectionError):
        pass
    writer.transport.abort()
    return sent - unsent, code


def watch_healthz(port: int, stop: Event, results: Connection) -> None:
    """In a process of its own, so the flooders' work in this one does not delay it."""
    samples = []
    while not stop.is_set():
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            samples.append((time.perf_counter() - started) * 1000)
        except OSError:
            samples.append(float("inf"))
        finally:
            connection.close()
        stop.wait(0.05)
    results.send(samples)


async def run(target: Server, mode: str, clients: int, seconds: float) -> dict[str, object]:
    [worker] = target.workers()
    before = memory_kib(worker, "VmRSS")
    sockets_before = open_sockets(worker)
    cpu_before = cpu_seconds([worker])
    stop = multiprocessing.Event()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    watcher = multiprocessing.Process(target=watch_healthz, args=(target.port, stop, sending))
    watcher.start()
    try:
        results = await asyncio.gather(
            *(flooder(target.port, FRAMES[mode], seconds) for _ in range(clients))
        )
    finally:
        stop.set()
        samples: list[float] = receiving.recv()
        watcher.join()
    await asyncio.sleep(AFTER)
    codes: dict[str, int] = {}
    for _, code in results:
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {
        "taken_mib": sum(taken for taken, _ in results) / 2**20,
        "codes": codes,
        "healthz_p50": statistics.median(samples),
        "healthz_max": max(samples),
        "rss_before": before / 1024,
        "rss_peak": memory_kib(worker, "VmHWM") / 1024,
        "rss_after": memory_kib(worker, "VmRSS") / 1024,
        "sockets": open_sockets(worker) - sockets_before,
        "cpu": cpu_seconds([worker]) - cpu_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=sorted(FRAMES), default="pings")
    parser.add_argument("--entries", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h"], capture_output=True, text=True, check=False
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as work, server(1, None, Path(work), []) as target:
        writer = Writer(target.port)
        writer.register()
        token = re.search(
            r'name="csrf_token" value="([^"]+)"',
            writer.opener.open(writer.base + "/").read().decode(),
        )
        assert token is not None
        for number in range(args.entries):
            writer.post_entry(
                f"Entry {number}: *some* words, a [link](https://example.com).", token.group(1)
            )
        result = asyncio.run(run(target, args.mode, args.clients, args.seconds))
    print(
        "| commit | mode | clients × s | MiB sent (kernel took) | close codes "
        "| /healthz p50 / max ms | worker RSS before / peak / after MiB "
        "| sockets still open after | worker CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {commit} | {args.mode} | {args.clients} × {args.seconds:g} "
        f"| {result['taken_mib']:.1f} | {result['codes']} "
        f"| {result['healthz_p50']:.1f} / {result['healthz_max']:.1f} "
        f"| {result['rss_before']:.0f} / {result['rss_peak']:.0f} / {result['rss_after']:.0f} "
        f"| {result['sockets']} | {result['cpu']:.2f} |"
    )


if __name__ == "__main__":
    main()
