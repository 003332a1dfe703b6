"""n8n: a community-node package (``package.py``), its nodes (``nodes.py``) and JS (``js.py``)."""

from connector.platforms.n8n.package import export

__all__ = ["export"]
