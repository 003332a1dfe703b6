"""Make: a custom app (``app.py``) and its IML interfaces and parameters (``interface.py``)."""

from connector.platforms.make.app import export

__all__ = ["export"]
