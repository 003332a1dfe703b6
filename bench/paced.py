"""A constant-rate load generator (wrk2-style pacing; ``wrk`` itself has no rate option).

Requests are released on a fixed schedule (request *i* at ``start + i / rate``) to whichever
of ``connections`` kept-alive HTTP/1.1 connections is free, so the load is the steady,
unsaturated load users send rather than as much as the server takes. The client is raw
``asyncio`` with pre-built request bytes, and a request's latency runs from the moment its
bytes are written to the moment its whole answer is read, so the generator's own
scheduling delay is never counted; it is reported apart (``lag``: how late each request
left), together with the latency of this same client against an endpoint that answers at
once (``bench.receiver``), which the harness subtracts as the generator's floor.

Run: ``python -m bench.paced --url URL --requests FILE --rate 50 --connections 16
--out FILE`` (the requests file holds one ``name=value;...<TAB>body`` line per request, the
format of ``bench.wrk``); writes one JSON object per answer: ``ms``, ``status``,
``retell_ms`` (from ``Server-Timing: retell;dur=``, else null) and ``lag_ms``, in the order
the requests were scheduled (``index``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.wrk import request_lines

__all__ = ["Answer", "main", "run_paced"]

_TIMING = re.compile(rb"(?im)^server-timing:.*?dur=([\d.]+)")
_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)")
_CLOSE = re.compile(rb"(?im)^connection:\s*close")


def _requests(path: Path, host: str, target: str) -> list[bytes]:
    built = []
    for line in path.read_text().splitlines():
        head, body = line.split("\t", 1)
        payload = body.encode()
        headers = "".join(
            f"{name}: {value}\r\n"
            for name, value in (pair.split("=", 1) for pair in head.split(";") if pair)
        )
        built.append(
            f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{headers}\r\n".encode()
            + payload
        )
    return built


class _Connection:
    """One kept-alive connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes, float]:
        """Send ``request``; the status, the head of the answer and the latency in ms."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(*self._address)
        reader, writer = self._streams
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = _LENGTH.search(head)
        await reader.readexactly(int(length[1]) if length else 0)
        elapsed = (time.perf_counter() - started) * 1000
        if _CLOSE.search(head):
            await self.close()
        return int(head.split(b" ", 2)[1]), head, elapsed

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _run(
    url: str, requests: list[bytes], rate: float, connections: int
) -> list[dict[str, Any]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    free: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(_Connection(host, port))
    results: list[dict[str, Any]] = []

    async def one(index: int, request: bytes, due: float) -> None:
        connection = await free.get()
        lag = (time.perf_counter() - due) * 1000
        try:
            try:
                status, head, ms = await connection.exchange(request)
            except (asyncio.IncompleteReadError, ConnectionError):
                # Closed by the server while idle, before it read this request: send again.
                await connection.close()
                status, head, ms = await connection.exchange(request)
        finally:
            free.put_nowait(connection)
        timing = _TIMING.search(head)
        retell = float(timing[1]) if timing else None
        results.append(
            {"index": index, "ms": ms, "status": status, "retell_ms": retell, "lag_ms": lag}
        )

    start = time.perf_counter() + 0.2
    tasks = []
    for index, request in enumerate(requests):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(index, request, due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        await free.get_nowait().close()
    return sorted(results, key=lambda r: int(r["index"]))


@dataclass(frozen=True)
class Answer:
    """One answer as the generator saw it."""

    ms: float  # from the request's bytes written to its answer read
    status: int
    retell_ms: float | None  # the server's own wait for Retell (Server-Timing), if it said
    lag_ms: float  # how late the request left against its schedule


def run_paced(
    url: str, lines: list[tuple[dict[str, str], str]], *, rate: float, connections: int
) -> list[Answer]:
    """Send ``lines`` (headers, body) to ``url`` at ``rate`` per second from a separate
    process (so the harness never competes with it for a GIL); every answer, in the order
    the requests were scheduled."""
    with tempfile.TemporaryDirectory(prefix="bench-paced-") as tmp:
        requests, out = Path(tmp) / "requests.tsv", Path(tmp) / "answers.jsonl"
        requests.write_text(request_lines(lines))
        command = [sys.executable, "-m", "bench.paced", "--url", url, "--requests"]
        command += [str(requests), "--rate", str(rate), "--connections", str(connections)]
        subprocess.run(
            [*command, "--out", str(out)],
            check=True,
            capture_output=True,
            timeout=len(lines) / rate + 120,
        )
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [Answer(r["ms"], r["status"], r["retell_ms"], r["lag_ms"]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paced", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    requests = _requests(args.requests, parts.netloc, parts.path or "/")
    results = asyncio.run(_run(args.url, requests, args.rate, args.connections))
    args.out.write_text("".join(json.dumps(r) + "\n" for r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
