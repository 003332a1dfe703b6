"""The one verifying SSL context of a process, shared by every outgoing connection pool.

Loading the CA bundle costs ~20 ms of CPU per context, and every pool httpx builds loads
its own: the delivery senders' pools, the inbound responders' and the Retell client's
(one per thread each, ``connector.per_thread``) would pay it again and again. Connections
only read the context, and every HTTP/1.1 pool sets the same ALPN list on it.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["verifying_context"]


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The default verifying context (httpx's, honouring ``SSL_CERT_FILE``), built once."""
    return httpx.create_ssl_context()
