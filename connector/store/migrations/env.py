"""Alembic's entry point: runs the revisions on the connection the caller lends.

:func:`connector.store.schema.migrate` passes its locked connection in
``config.attributes["connection"]``; nothing here opens one of its own, so there is no
``alembic.ini`` and no second place that knows the database URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from connector.store.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "run the connector's migrations through connector.store.schema.migrate() or "
        "python -m connector.store.migrations, which lend them a locked connection"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode writes revisions that way.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
