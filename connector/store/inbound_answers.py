"""The answers given to inbound calls: a short-lived claim per request, then the record.

Retell retries an inbound webhook that took longer than 10 s or failed; each retry must get
the answer the first one got, and a responder must be asked once. So the first request
*claims* the request's key (an insert that only one writer wins), works out the answer,
then records it in ONE transaction with the ``call_inbound`` event, its deliveries to
subscribers, and the responders' attempts (which is how they reach the delivery log).
A retry finds the answer; a retry that arrives while the first is still working waits for
it. A claim whose holder died runs out (``hold_seconds``) and is taken over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, delete, select, update

from connector.store.engine import InsertIfNew
from connector.store.tables import deliveries, delivery_attempts, events, inbound_answers

__all__ = ["AnswerLedger", "Claim"]

_INSERT_NEW = InsertIfNew(inbound_answers, inbound_answers.c.key)
_INSERT_EVENT = InsertIfNew(events, events.c.id)


@dataclass(frozen=True)
class Claim:
    """new: work out the answer; answered: send ``answer``; pending: another is working."""

    kind: Literal["new", "answered", "pending"]
    event_id: str
    answer: dict[str, Any] | None = None


class AnswerLedger:
    """Claims and records of inbound answers, shared by every process through the store."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def claim(self, key: str, event_id: str, *, hold_seconds: float) -> Claim:
        """Claim ``key`` for ``event_id``, or say what an earlier request left."""
        now = self._clock()
        row = {
            "key": key,
            "event_id": event_id,
            "state": "pending",
            "answer": None,
            "created_at": now,
            "expires_at": now + hold_seconds,
        }
        c = inbound_answers.c
        with self._engine.begin() as conn:
            if conn.execute(_INSERT_NEW.on(conn), [row]).first() is not None:
                return Claim("new", event_id)
            found = conn.execute(
                select(inbound_answers).where(c.key == key).with_for_update()
            ).first()
            if found is None or found.expires_at <= now:  # purged meanwhile, or stale
                if found is None:
                    conn.execute(inbound_answers.insert().values(**row))
                else:
                    conn.execute(update(inbound_answers).where(c.key == key).values(**row))
                return Claim("new", event_id)
            if found.state == "answered" and found.answer is not None:
                return Claim("answered", found.event_id, json.loads(found.answer))
            return Claim("pending", found.event_id)

    def answered(self, key: str) -> dict[str, Any] | None:
        """The recorded answer for ``key``, if there is one yet."""
        c = inbound_answers.c
        with self._engine.connect() as conn:
            text = conn.execute(
                select(c.answer).where(c.key == key, c.state == "answered")
            ).scalar()
        return None if text is None else dict(json.loads(text))

    def record(
        self,
        key: str,
        answer: dict[str, Any],
        *,
        keep_seconds: float,
        event: dict[str, Any],
        queued: Sequence[dict[str, Any]],
        attempts: Sequence[dict[str, Any]],
    ) -> None:
        """Keep ``answer`` for ``keep_seconds`` and store the event with its deliveries and
        the responders' attempts, all in one transaction."""
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                update(inbound_answers)
                .where(inbound_answers.c.key == key)
                .values(
                    state="answered",
                    answer=json.dumps(answer, ensure_ascii=False),
                    expires_at=now + keep_seconds,
                )
            )
            if conn.execute(_INSERT_EVENT.on(conn), [event]).first() is None:
                return  # recorded before (a taken-over claim of the same event)
            if queued:
                conn.execute(deliveries.insert(), list(queued))
            if attempts:
                conn.execute(delivery_attempts.insert(), list(attempts))

    def release(self, key: str, event_id: str) -> None:
        """Give up a claim that could not be answered, so a retry starts afresh at once."""
        c = inbound_answers.c
        with self._engine.begin() as conn:
            conn.execute(
                delete(inbound_answers).where(
                    c.key == key, c.event_id == event_id, c.state == "pending"
                )
            )

    def purge(self) -> int:
        """Drop claims and answers that ran out; returns how many."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(inbound_answers).where(inbound_answers.c.expires_at < self._clock())
            )
        return int(gone.rowcount or 0)
