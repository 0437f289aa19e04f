"""Child process: an HTTP/1.1 keep-alive load generator (asyncio, raw streams) for the sandbox.

Reads its settings as JSON on stdin and writes the result as JSON to the file the parent names.
Each of ``connections`` clients keeps one connection open and sends the same GET request over it:

- ``rate`` = 0: closed loop, each client sends its next request as soon as the reply is in
  (saturation: the highest rate the server sustains);
- ``rate`` > 0: open loop, the clients together send ``rate`` requests per second on a fixed
  schedule; latency counts from the scheduled send time, so a stalled server is not hidden by
  clients that politely wait for it (coordinated omission).

Requests before ``warmup`` seconds are not counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import time
from typing import Any

from benchmarks._harness import write_result


class _Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors = 0
        self.reconnects = 0
        self.total = 0


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[str, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head[9:12].decode()
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _client(cfg: dict[str, Any], stats: _Stats, start: float, index: int) -> None:
    host, port = cfg["host"], cfg["port"]
    request = cfg["request"].encode("latin-1")
    measure_from = start + cfg["warmup"]
    end = measure_from + cfg["duration"]
    period = cfg["connections"] / cfg["rate"] if cfg["rate"] else 0.0
    due = start + random.random() * period
    reader, writer = await _connect(host, port)
    try:
        while True:
            if period:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = due
                due += period
            else:
                sent = time.perf_counter()
            if sent >= end:
                return
            try:
                status, close = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                stats.errors += 1
                close = True
                status = ""
            done = time.perf_counter()
            stats.total += 1
            if sent >= measure_from and status:
                stats.latencies.append(done - sent)
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if close:
                writer.close()
                stats.reconnects += 1
                reader, writer = await _connect(host, port)
    finally:
        writer.close()


async def _run(cfg: dict[str, Any]) -> dict[str, Any]:
    stats = _Stats()
    start = time.perf_counter()
    clients = [_client(cfg, stats, start, i) for i in range(cfg["connections"])]
    results = await asyncio.gather(*clients, return_exceptions=True)
    failed = [repr(r) for r in results if isinstance(r, BaseException)]
    return {
        "latencies": stats.latencies,
        "statuses": stats.statuses,
        "errors": stats.errors + len(failed),
        "failures": failed[:3],
        "reconnects": stats.reconnects,
        "total": stats.total,
        "duration": cfg["duration"],
    }


def main() -> None:
    cfg = json.loads(sys.stdin.read())
    random.seed(cfg.get("seed", 1))
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    write_result(cfg, runner(_run(cfg)))


if __name__ == "__main__":
    main()
