"""Platform exporters: the manifest and schemas turned into each platform's native artefact.

One subpackage per platform (``zapier/``, ``n8n/``, ``make/``, ``power_automate/``,
``openapi/``) around the shared field model (``source.py``: the manifest and schemas as read;
``fields.py``: a neutral field list; ``schema.py``: JSON Schema walking and naming). Each
subpackage exports ``export(source: ConnectorSource, out: Path) -> list[Path]`` and reads
nothing but the manifest and schemas, so a change to the connector's description reaches
every platform without platform-specific hand edits.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from connector.platforms.source import ConnectorSource, load_source

__all__ = ["PLATFORMS", "ConnectorSource", "export", "load_source"]

PLATFORMS = ("openapi", "zapier", "n8n", "power-automate", "make", "mcp")


def _exporter(platform: str) -> Callable[[ConnectorSource, Path], list[Path]]:
    module = importlib.import_module(f"connector.platforms.{platform.replace('-', '_')}")
    found: Callable[[ConnectorSource, Path], list[Path]] = module.export
    return found


def export(platform: str, out: Path, *, source: ConnectorSource | None = None) -> list[Path]:
    """Write ``platform``'s artefact (or every one, for ``all``) under ``out``."""
    source = source or load_source()
    if platform == "all":
        return [path for name in PLATFORMS for path in _exporter(name)(source, out / name)]
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}, all")
    return _exporter(platform)(source, out)
