"""DriverSql: a Core statement compiled once per backend, run as driver SQL, on both stores."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import DBAPIError

from connector.store.driver_sql import DriverSql
from connector.store.tables import delivery_attempts

_ROWS = DriverSql(delivery_attempts.insert())
_BY_IDS = DriverSql(
    select(delivery_attempts.c.delivery_id, delivery_attempts.c.duration_ms)
    .where(
        delivery_attempts.c.delivery_id.in_(bindparam("ids", expanding=True)),
        delivery_attempts.c.attempt == 1,  # a value the statement binds itself
        delivery_attempts.c.at >= bindparam("since"),
    )
    .order_by(delivery_attempts.c.delivery_id)
)
_FAIL = DriverSql(
    update(delivery_attempts)
    .where(delivery_attempts.c.delivery_id == bindparam("b_id"))
    .values(error=bindparam("b_error"))
)


def _row(delivery_id: str, attempt: int = 1, at: float = 10.0) -> dict[str, object]:
    return {
        "delivery_id": delivery_id,
        "attempt": attempt,
        "at": at,
        "status_code": 204,
        "error": None,
        "duration_ms": 1.5,
        "response_body": "",
    }


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """Attempt rows d0-d4 (attempt 1) and d0's attempt 2."""
    with engine.begin() as conn:
        _ROWS.run_many(conn, [_row(f"d{n}") for n in range(5)] + [_row("d0", attempt=2)])
    return engine


@pytest.mark.parametrize("count", [1, 3, 5])
def test_a_list_parameter_of_any_length_selects_its_rows(stored: Engine, count: int) -> None:
    """Each length of list gets its own rendering; the statement's own values still apply."""
    ids = [f"d{n}" for n in range(count)] + ["missing"]
    with stored.connect() as conn:
        rows = _BY_IDS.run(conn, {"ids": ids, "since": 10.0}).all()
    assert [(row.delivery_id, row.duration_ms) for row in rows] == [
        (f"d{n}", 1.5) for n in range(count)
    ]


def test_lengths_seen_before_are_reused(stored: Engine) -> None:
    """Alternating lengths give the right rows each time (no rendering used for another)."""
    with stored.connect() as conn:
        for ids in (["d1", "d2"], ["d3"], ["d2", "d4"], ["d0"]):
            found = _BY_IDS.run(conn, {"ids": ids, "since": 0.0}).scalars().all()
            assert found == sorted(ids)


def test_run_many_updates_each_row(stored: Engine) -> None:
    with stored.begin() as conn:
        _FAIL.run_many(conn, [{"b_id": "d1", "b_error": "one"}, {"b_id": "d3", "b_error": "3"}])
    with stored.connect() as conn:
        rows = conn.execute(select(delivery_attempts.c.delivery_id, delivery_attempts.c.error))
        errors = {delivery_id: error for delivery_id, error in rows}
    assert errors == {"d0": None, "d1": "one", "d2": None, "d3": "3", "d4": None}


def test_a_missing_parameter_is_an_error_not_a_null(stored: Engine) -> None:
    """A parameter the caller must give is never filled in (as NULL) by the statement."""
    with pytest.raises(DBAPIError), stored.begin() as conn:
        _FAIL.run_many(conn, [{"b_id": "d1"}])
    with stored.connect() as conn:
        errors = conn.execute(select(delivery_attempts.c.error)).scalars().all()
    assert errors == [None] * 6
