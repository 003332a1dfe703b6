"""A Flask JSON provider that reads with :func:`connector.jsontext.loads`.

``request.get_json`` then refuses nesting deeper than ``jsontext.MAX_DEPTH`` with a
``ValueError``, which Flask turns into a 400 (or ``None`` when ``silent``), instead of the
standard library's ``RecursionError``, which would be a 500. Both the connector and the
sandbox install it, so no body a client sends can reach a recursive parser. Writing is left
to the provider it wraps, so response settings such as ``sort_keys`` are kept.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import JSONProvider
from werkzeug.sansio.response import Response

from connector import jsontext

__all__ = ["BoundedJSONProvider", "install"]


class BoundedJSONProvider(JSONProvider):
    """Reads through ``jsontext`` (nesting capped); writes through the wrapped provider."""

    def __init__(self, app: Flask, inner: JSONProvider) -> None:
        super().__init__(app)
        self._inner = inner

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self._inner.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
        return jsontext.loads(raw)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        return self._inner.response(*args, **kwargs)


def install(app: Flask) -> None:
    """Make ``app`` read JSON through ``jsontext``; call after configuring ``app.json``."""
    app.json = BoundedJSONProvider(app, app.json)
