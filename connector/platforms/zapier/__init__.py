"""Zapier: a Zapier Platform CLI app (``app.py``) and the JavaScript it is written in."""

from connector.platforms.zapier.app import export

__all__ = ["export"]
