"""The console's session: a signed cookie naming the owner, and the CSRF token of its forms.

Stateless, so any gunicorn worker or replica accepts a cookie another one set: the cookie
holds ``{owner, csrf}`` signed with the console key (``CONNECTOR_CONSOLE_SECRET``, else the
key generated once and kept in the store) and expires after ``MAX_AGE``. It never holds the
token: the owner is the token's hash, checked again on every request against the configured
tokens, so removing a token from ``CONNECTOR_API_TOKENS`` signs its sessions out.

HttpOnly and SameSite=Lax always; Secure when the request came over https (directly or as
``CONNECTOR_PUBLIC_URL`` says). Every POST must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["COOKIE", "MAX_AGE", "ConsoleSession", "SessionCodec"]

COOKIE = "connector_console"
MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    """Who is signed in (``owner`` None: nobody yet) and the token their forms carry."""

    owner: str | None
    csrf: str

    @classmethod
    def anonymous(cls) -> ConsoleSession:
        return cls(None, secrets.token_urlsafe(24))

    @classmethod
    def signed_in(cls, owner: str) -> ConsoleSession:
        """A fresh session (new CSRF token) for ``owner``: nothing from before sign-in stays."""
        return cls(owner, secrets.token_urlsafe(24))

    def csrf_matches(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf.encode(), str(sent).encode())


class SessionCodec:
    """Signs sessions into cookie values and reads them back."""

    def __init__(self, key: str) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="retell-connector console session")

    def dumps(self, session: ConsoleSession) -> str:
        return self._serializer.dumps({"o": session.owner, "c": session.csrf})

    def loads(self, value: str | None) -> ConsoleSession | None:
        """The session in ``value``; None when missing, forged, expired or malformed."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=MAX_AGE)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict):
            return None
        owner, csrf = data.get("o"), data.get("c")
        if not isinstance(csrf, str) or not (owner is None or isinstance(owner, str)):
            return None
        return ConsoleSession(owner, csrf)
