"""``WebhookRecorder``: a loopback endpoint that keeps every POST it gets, byte for byte.

For tests and demos: point the sandbox's ``webhook_url`` (or any sender) at ``recorder.url``,
then ``wait_for(n)``. Script failures with ``respond_with(500, 500)``; later requests get 204.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.loopback import LoopbackServer

__all__ = ["Received", "WebhookRecorder"]


@dataclass(frozen=True)
class Received:
    """One request as it arrived: path, headers (lower-case names) and the raw body text."""

    path: str
    headers: dict[str, str]
    body: str
    status: int
    """What the recorder answered."""

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookRecorder:
    """Records requests on ``http://127.0.0.1:<free port>/`` (any path)."""

    def __init__(
        self, statuses: Iterable[int] = (), *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._cond = threading.Condition()
        self._statuses: deque[int] = deque(statuses)
        self._received: list[Received] = []
        self._http = LoopbackServer(self._wsgi, host=host, port=port)

    @property
    def url(self) -> str:
        return self._http.url

    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with ``statuses``, in order, then 204 again."""
        with self._cond:
            self._statuses.extend(statuses)

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(
        self, count: int, timeout: float = 5.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """At least ``count`` requests (those ``where`` accepts); TimeoutError otherwise."""

        def chosen() -> list[Received]:
            return [r for r in self._received if where is None or where(r)]

        with self._cond:
            if not self._cond.wait_for(lambda: len(chosen()) >= count, timeout):
                raise TimeoutError(f"got {len(chosen())} of {count} requests in {timeout} s")
            return chosen()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        with self._cond:
            status = self._statuses.popleft() if self._statuses else 204
            headers = {k.lower(): v for k, v in request.headers.items()}
            self._received.append(Received(request.path, headers, body, status))
            self._cond.notify_all()
        return Response(status=status)(environ, start_response)

    def __enter__(self) -> WebhookRecorder:
        self._http.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()
