"""Power Automate: a custom connector (``connector.py``) in Swagger 2.0 (``swagger.py``)."""

from connector.platforms.power_automate.connector import export

__all__ = ["export"]
