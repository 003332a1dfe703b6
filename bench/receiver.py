"""The P3 subscriber: a minimal asyncio HTTP/1.1 server that answers 204 and records, for
each delivery, its arrival time, ``webhook-id``, the event's ``created_at`` and the path it
was sent to (so it is never the bottleneck, and one receiver serves several subscriptions).

Run: ``python -m bench.receiver --port 9002 --out arrivals.jsonl``; SIGTERM writes the file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path

ARRIVALS: list[tuple[float, str, str, str]] = []  # (arrival, webhook-id, created_at, path)
RESPONSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else ""
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            arrived = time.time()
            marker = body.find(b'"created_at":"')
            created = body[marker + 14 : marker + 38].decode() if marker >= 0 else ""
            ARRIVALS.append((arrived, headers.get("webhook-id", ""), created, path))
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int, out: Path) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    out.write_text("".join(json.dumps(a) + "\n" for a in ARRIVALS))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.out))


if __name__ == "__main__":
    main()
