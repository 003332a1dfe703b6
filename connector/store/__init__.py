"""Storage on SQLAlchemy Core: SQLite (WAL) embedded by default, PostgreSQL for replicas.

Every table the connector owns is declared in ``tables``; each concept has its own module.
"""

from connector.store.engine import create_store_engine
from connector.store.tables import metadata

__all__ = ["create_store_engine", "metadata"]
