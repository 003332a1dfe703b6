"""The queue as its owners see it: add a call, look calls up, cancel, and steer campaigns.

Every queued call and campaign belongs to the platform token that created it (``owner``);
another token can neither see nor change it. The dialer's side of the same rows (claims,
outcomes) is ``connector.campaigns.dialing``.

States of a queued call::

    queued ─claim→ dialing ─Retell 201→ calling ─call ended→ completed
      ↑  │            │                    │           ├→ queued (retry, or turned away
      │  │            └─429 / not reached──┘           │   at the concurrency limit)
      │  ├─cancel→ cancelled                           └→ failed (retries used up)
      │  └─expires_at passed→ expired
      └────────── dialing/calling count against the concurrency budget
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.engine import Row

from connector.campaigns.policy import RetryPolicy
from connector.campaigns.requests import QueueRequest
from connector.campaigns.windows import (
    DEFAULT_WINDOW,
    CallWindow,
    WindowNeverOpens,
    next_opening,
    parse_window,
)
from connector.flatten import iso_from_ms
from connector.store.engine import InsertIfNew
from connector.store.tables import campaigns, queued_call_attempts, queued_calls

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "STATES",
    "CancelRefused",
    "QueueStore",
    "attempt_views",
    "campaign_window",
    "iso",
    "queued_view",
]

STATES: Final = (
    "queued",
    "dialing",
    "calling",
    "completed",
    "failed",
    "expired",
    "cancelled",
)
ACTIVE_STATES: Final = ("dialing", "calling")  # in flight: they use up concurrency
FINAL_STATES: Final = ("completed", "failed", "expired", "cancelled")
RATE_WINDOW_SECONDS: Final = 300.0

_NEW_CAMPAIGN = InsertIfNew(campaigns, campaigns.c.name)
_NEW_CALL = InsertIfNew(queued_calls, queued_calls.c.id)


class CancelRefused(Exception):
    """The queued call cannot be cancelled any more; ``state`` says why."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso_from_ms(seconds * 1000)


def campaign_window(raw: str | None) -> CallWindow | None:
    """A campaign's stored window (JSON text), or None for the default."""
    return None if raw is None else parse_window(json.loads(raw))


def attempt_views(rows: Iterable[Row[Any]]) -> list[dict[str, Any]]:
    return [
        {
            "number": a.number,
            "state": a.state,
            "call_id": a.call_id,
            "outcome": a.outcome,
            "counted": bool(a.counted),
            "error": a.error,
            "dialled_at": iso(a.dialled_at),
            "ended_at": iso(a.ended_at),
        }
        for a in rows
    ]


def queued_view(row: Row[Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The queued-call object of the API and of queued_call.* events."""
    request = json.loads(row.request)
    retry = RetryPolicy.from_json(json.loads(row.retry))
    return {
        "id": row.id,
        "state": row.state,
        "campaign": row.campaign,
        "to_number": row.to_number,
        "from_number": request.get("from_number"),
        "agent_id": request.get("override_agent_id"),
        "next_attempt_at": iso(row.next_attempt_at) if row.state == "queued" else None,
        "not_before": iso(row.not_before),
        "expires_at": iso(row.expires_at),
        "call_window": None if row.call_window is None else json.loads(row.call_window),
        "retry": retry.to_json(),
        "attempts_used": row.attempts,
        "max_attempts": retry.max_retries + 1,
        "attempts": attempts,
        "call_id": row.call_id,
        "last_outcome": row.last_outcome,
        "reason": row.reason,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "finished_at": iso(row.finished_at),
    }


def first_opening(
    window: CallWindow | None, to_number: str, at: float, expires_at: float | None
) -> float | None:
    """When the call may next ring at or after ``at``; None if not before it expires."""
    try:
        opening = next_opening(
            window or DEFAULT_WINDOW, to_number, dt.datetime.fromtimestamp(at, dt.UTC)
        )
    except WindowNeverOpens:
        return None
    moment = opening.timestamp()
    return None if expires_at is not None and moment >= expires_at else moment


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class QueueStore:
    """Queued calls and campaigns in the store, shared by every process."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    # -- adding -------------------------------------------------------------------------

    def campaign_window(self, owner: str, name: str) -> CallWindow | None:
        with self._engine.connect() as conn:
            raw = conn.execute(
                select(campaigns.c.call_window).where(
                    campaigns.c.owner == owner, campaigns.c.name == name
                )
            ).scalar()
        return campaign_window(raw)

    def enqueue(self, owner: str, request: QueueRequest, queued_id: str) -> dict[str, Any]:
        """Store the call (once per ``queued_id``) and return its view."""
        now = self._clock()
        to_number = str(request.call["to_number"])
        with self._engine.begin() as conn:
            self._ensure_campaign(conn, owner, request.campaign, now)
            window = request.window or campaign_window(
                conn.execute(
                    select(campaigns.c.call_window).where(
                        campaigns.c.owner == owner, campaigns.c.name == request.campaign
                    )
                ).scalar()
            )
            start = max(now, request.not_before or now)
            due = first_opening(window, to_number, start, request.expires_at)
            row = {
                "id": queued_id,
                "owner": owner,
                "campaign": request.campaign,
                "state": "queued" if due is not None else "expired",
                "request": json.dumps(request.call, ensure_ascii=False),
                "to_number": to_number,
                "call_window": None
                if request.window_json is None
                else json.dumps(request.window_json),
                "retry": json.dumps(request.retry.to_json()),
                "not_before": request.not_before,
                "expires_at": request.expires_at,
                "next_attempt_at": due,
                "attempts": 0,
                "dials": 0,
                "reason": None if due is not None else "the calling hours never open in time",
                "created_at": now,
                "updated_at": now,
                "finished_at": None if due is not None else now,
            }
            conn.execute(_NEW_CALL.on(conn), row)
            found = self._view(conn, owner, queued_id)
        assert found is not None
        return found

    def _ensure_campaign(self, conn: Connection, owner: str, name: str, now: float) -> None:
        conn.execute(
            _NEW_CAMPAIGN.on(conn),
            {"owner": owner, "name": name, "paused": 0, "created_at": now},
        )

    # -- reading -------------------------------------------------------------------------

    def get(self, owner: str, queued_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            return self._view(conn, owner, queued_id)

    def _view(self, conn: Connection, owner: str, queued_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            select(queued_calls).where(
                queued_calls.c.id == queued_id, queued_calls.c.owner == owner
            )
        ).first()
        if row is None:
            return None
        return queued_view(row, self._attempts(conn, [queued_id]).get(queued_id, []))

    @staticmethod
    def _attempts(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        a = queued_call_attempts.c
        rows = conn.execute(
            select(queued_call_attempts)
            .where(a.queued_call_id.in_(list(ids)))
            .order_by(a.queued_call_id, a.number)
        ).all()
        grouped: dict[str, list[Row[Any]]] = {}
        for row in rows:
            grouped.setdefault(row.queued_call_id, []).append(row)
        return {key: attempt_views(value) for key, value in grouped.items()}

    def page(
        self,
        owner: str,
        *,
        campaign: str | None = None,
        state: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Oldest first; ``cursor`` continues after the last item of the previous page."""
        c = queued_calls.c
        query = select(queued_calls).where(c.owner == owner)
        if campaign is not None:
            query = query.where(c.campaign == campaign)
        if state is not None:
            query = query.where(c.state == state)
        if cursor is not None:
            created, last_id = decode_cursor(cursor)
            query = query.where(
                or_(c.created_at > created, and_(c.created_at == created, c.id > last_id))
            )
        query = query.order_by(c.created_at, c.id).limit(limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            attempts = self._attempts(conn, [r.id for r in rows]) if rows else {}
        items = [queued_view(r, attempts.get(r.id, [])) for r in rows]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
        return Page(items, next_cursor)

    # -- changing ------------------------------------------------------------------------

    def cancel(self, owner: str, queued_id: str) -> dict[str, Any] | None:
        """Cancel a call that is waiting; None if unknown, ``CancelRefused`` if too late."""
        now = self._clock()
        c = queued_calls.c
        with self._engine.begin() as conn:
            row = conn.execute(
                select(c.state).where(c.id == queued_id, c.owner == owner).with_for_update()
            ).first()
            if row is None:
                return None
            if row.state == "queued":
                conn.execute(
                    update(queued_calls)
                    .where(c.id == queued_id)
                    .values(
                        state="cancelled",
                        next_attempt_at=None,
                        reason="cancelled through the API",
                        updated_at=now,
                        finished_at=now,
                    )
                )
            elif row.state != "cancelled":
                raise CancelRefused(row.state)
            return self._view(conn, owner, queued_id)

    def set_paused(self, owner: str, name: str, paused: bool) -> None:
        """Pause or resume a campaign (creating it if it has no calls yet)."""
        self._set_campaign(owner, name, paused=1 if paused else 0)

    def set_window(self, owner: str, name: str, window: Any) -> None:
        """Store a campaign's default window (its JSON form), creating the campaign if new.

        Queued calls that use the campaign's window are re-checked against it when claimed.
        """
        self._set_campaign(owner, name, call_window=None if window is None else json.dumps(window))

    def _set_campaign(self, owner: str, name: str, **values: Any) -> None:
        """Change a campaign's row, creating the campaign first if it has no row yet."""
        now = self._clock()
        with self._engine.begin() as conn:
            self._ensure_campaign(conn, owner, name, now)
            conn.execute(
                update(campaigns)
                .where(campaigns.c.owner == owner, campaigns.c.name == name)
                .values(**values)
            )

    # -- campaigns -----------------------------------------------------------------------

    def campaigns(self, owner: str, name: str | None = None) -> list[dict[str, Any]]:
        """Progress per campaign: counts by state, dial rate, ETA, paused."""
        now = self._clock()
        c, a = queued_calls.c, queued_call_attempts.c
        known = select(campaigns).where(campaigns.c.owner == owner)
        counts = (
            select(c.campaign, c.state, func.count())
            .where(c.owner == owner)
            .group_by(c.campaign, c.state)
        )
        dials = (
            select(c.campaign, func.count())
            .select_from(queued_call_attempts.join(queued_calls, c.id == a.queued_call_id))
            .where(c.owner == owner, a.dialled_at >= now - RATE_WINDOW_SECONDS)
            .group_by(c.campaign)
        )
        if name is not None:
            known = known.where(campaigns.c.name == name)
            counts = counts.where(c.campaign == name)
            dials = dials.where(c.campaign == name)
        with self._engine.connect() as conn:
            rows = conn.execute(known.order_by(campaigns.c.created_at)).all()
            by_state: dict[str, dict[str, int]] = {}
            for campaign, state, count in conn.execute(counts):
                by_state.setdefault(campaign, {})[state] = int(count)
            recent = {campaign: int(count) for campaign, count in conn.execute(dials)}
        return [
            _campaign_view(r, by_state.get(r.name, {}), recent.get(r.name, 0), now) for r in rows
        ]


def _campaign_view(
    row: Row[Any], counts: dict[str, int], recent_dials: int, now: float
) -> dict[str, Any]:
    full = {state: counts.get(state, 0) for state in STATES}
    remaining = full["queued"] + full["dialing"] + full["calling"]
    per_minute = recent_dials * 60.0 / RATE_WINDOW_SECONDS
    eta = None
    if remaining and per_minute > 0 and not row.paused:
        eta = iso(now + remaining / per_minute * 60.0)
    return {
        "name": row.name,
        "paused": bool(row.paused),
        "counts": full,
        "total": sum(full.values()),
        "remaining": remaining,
        "dial_rate_per_minute": round(per_minute, 2),
        "eta": eta,
        "call_window": None if row.call_window is None else json.loads(row.call_window),
        "created_at": iso(row.created_at),
    }


def encode_cursor(created_at: float, queued_id: str) -> str:
    raw = f"{created_at!r}|{queued_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError for anything that is not a cursor this store made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, queued_id = raw.partition("|")
        value = float(created)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("is not a cursor from an earlier page") from None
    if not queued_id:
        raise ValueError("is not a cursor from an earlier page")
    return value, queued_id
