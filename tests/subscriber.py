"""A scriptable subscriber endpoint on loopback for delivery tests: records and answers."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook
from werkzeug.wrappers import Request, Response

from connector.loopback import LoopbackServer


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, extra headers, and an optional delay before it."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: str = "ok"


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]
    body: str


class Subscriber:
    """``with Subscriber() as sub: sub.url`` — answers from a script, then 200."""

    def __init__(self, *replies: Reply) -> None:
        self._replies: deque[Reply] = deque(replies)
        self._cond = threading.Condition()
        self.hits: list[Hit] = []
        self._server = LoopbackServer(self._wsgi)
        self.url = self._server.url + "/hook"

    def script(self, *replies: Reply) -> None:
        with self._cond:
            self._replies.extend(replies)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        with self._cond:
            reply = self._replies.popleft() if self._replies else Reply()
            self.hits.append(Hit({k.lower(): v for k, v in request.headers.items()}, body))
            self._cond.notify_all()
        if reply.delay:
            time.sleep(reply.delay)
        return Response(reply.body, status=reply.status, headers=reply.headers)(
            environ, start_response
        )

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Hit]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.hits) >= count, timeout):
                raise TimeoutError(f"{len(self.hits)} of {count} deliveries arrived")
            return list(self.hits)

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every hit's payload, each verified with the ``standardwebhooks`` library."""
        hook = Webhook(secret)
        return [hook.verify(hit.body, hit.headers) for hit in self.hits]

    def __enter__(self) -> Subscriber:
        self._server.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.close()
