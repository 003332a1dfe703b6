"""OpenAPI 3.1: the connector's own HTTP API as one document (``document.py``)."""

from connector.platforms.openapi.document import export

__all__ = ["export"]
