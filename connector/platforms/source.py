"""What every exporter reads: the rendered manifest and all schemas, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector import manifest

__all__ = ["ConnectorSource", "load_source"]

PLACEHOLDER_BASE_URL = "https://your-connector.example.com"


@dataclass(frozen=True)
class ConnectorSource:
    """The connector as data. ``base_url`` is where the platform reaches the connector."""

    manifest: dict[str, Any]
    schemas: dict[str, dict[str, Any]]  # by file name, e.g. "call.json"
    base_url: str

    def schema(self, ref: str) -> dict[str, Any]:
        """The schema a manifest reference (``schemas/call.json``) points at."""
        return self.schemas[ref.rsplit("/", 1)[-1]]


def load_source(base_url: str = PLACEHOLDER_BASE_URL) -> ConnectorSource:
    return ConnectorSource(
        manifest=manifest.render_manifest(base_url),
        schemas={name: manifest.load_schema(name) for name in manifest.schema_names()},
        base_url=base_url.rstrip("/"),
    )
