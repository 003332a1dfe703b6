"""Hot statements compiled once per backend and run as driver SQL (``exec_driver_sql``).

SQLAlchemy's compiled-statement path (cache key, parameter processing, expanding ``IN``
lists, result set-up) costs more CPU per statement than SQLite takes to run a small one; a
delivery loop runs several per batch of outcomes. Run as driver SQL, a statement skips all
of that, while errors are still wrapped and broken connections still invalidated the same
way, inside the same transaction. The statement stays a Core construct, written once for
both backends: SQLite is compiled with named parameters, which ``sqlite3`` takes from a
dictionary as PostgreSQL's driver does. Values go to the driver as they are, so this suits
columns the drivers read and write natively (text, numbers, NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import ClauseElement, Connection, CursorResult
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["DriverSql"]


class _Compiled(NamedTuple):
    compiler: SQLCompiler
    sql: str
    constants: dict[str, Any]  # the values the statement itself binds ('delivering', ...)
    expanding: tuple[str, ...]  # the names of its list parameters


class DriverSql:
    """One statement (or a factory of it for a connection's dialect), compiled per backend.

    An expanding bind (``bindparam(..., expanding=True)``) takes a list; its SQL is rendered
    once for each length of list seen and reused.
    """

    def __init__(self, statement: ClauseElement | Callable[[Connection], ClauseElement]) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._expanded: dict[tuple[str, tuple[int, ...]], tuple[str, dict[str, list[str]]]] = {}

    def _compile(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = self._statement(conn) if callable(self._statement) else self._statement
            named = dialect if dialect.name == "postgresql" else sqlite.dialect(paramstyle="named")
            compiler = cast(SQLCompiler, statement.compile(dialect=named))
            expanding = tuple(bind.key for bind in compiler.post_compile_params if bind.expanding)
            # Only values the statement binds itself: a parameter the caller must give stays
            # out, so a missing one is the driver's error rather than a silent NULL.
            constants = {
                k: v
                for k, v in compiler.params.items()
                if not compiler.binds[k].required and k not in expanding
            }
            found = _Compiled(compiler, str(compiler), constants, expanding)
            self._compiled[dialect.name] = found
        return found

    def _values(self, conn: Connection, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL for these parameters and the driver's parameter dictionary."""
        compiled = self._compile(conn)
        values = {**compiled.constants, **params}
        if not compiled.expanding:
            return compiled.sql, values
        key = (conn.dialect.name, tuple(len(params[name]) for name in compiled.expanding))
        found = self._expanded.get(key)
        if found is None:
            state = compiled.compiler.construct_expanded_state(dict(params))
            found = self._expanded[key] = (state.statement, dict(state.parameter_expansion))
        sql, names = found
        for name in compiled.expanding:
            values.update(zip(names[name], values.pop(name), strict=True))
        return sql, values

    def run(self, conn: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        """Execute once with ``params``."""
        sql, values = self._values(conn, params)
        return conn.exec_driver_sql(sql, values)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute for every row at once (the driver's ``executemany``); no list parameters."""
        compiled = self._compile(conn)
        conn.exec_driver_sql(compiled.sql, [{**compiled.constants, **row} for row in rows])
