"""Answering one inbound call: claim, rules, saved context, responders, record, answer.

1. Claim the request's key (``connector.store.inbound_answers``): a retry of an answered
   request gets the same answer at once, and responders are asked only once.
2. Defaults: the first matching rule (or a decline), then every saved context of the
   caller merged over it.
3. Responders (unless declined), each within its budget; valid replies merged over the
   defaults in subscription order.
4. The answer is checked before it is sent (``answer.answer_errors``): a merge Retell would
   reject falls back to the defaults, and those to the rule alone, then to an empty answer.
5. Recorded in one transaction with the ``call_inbound`` event, its deliveries to
   subscribers and the responders' attempts; then returned to be sent.

Rules, contacts and subscriptions of every token take part: a connector has one Retell
account, and every token's automations speak for its calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine

from connector import jsontext
from connector.inbound.answer import answer_errors, merge, wire_answer
from connector.inbound.events import Decision, inbound_event, inbound_event_id
from connector.inbound.request import INBOUND_EVENT, InboundCall
from connector.inbound.responder import MAX_BUDGET_SECONDS, Reply, Responders
from connector.inbound.rules import Rule, first_match, rule_from_spec
from connector.problems import Problem
from connector.store.inbound_answers import AnswerLedger
from connector.store.inbound_contacts import ContactStore
from connector.store.inbound_rules import RuleStore
from connector.store.inbox import new_delivery
from connector.store.subscriptions import Subscription, SubscriptionStore
from connector.validation import normalize_e164

__all__ = ["Answered", "InboundService"]

log = logging.getLogger(__name__)

KEEP_SECONDS: Final = 120.0
"""How long an answer is replayed to retries: Retell's 3 retries after 10 s each fit."""
HOLD_SECONDS: Final = MAX_BUDGET_SECONDS + 2.0
"""How long a claim holds while its answer is worked out (the longest budget, and some)."""
PURGE_EVERY_SECONDS: Final = 600.0
_WAIT_STEP_SECONDS: Final = 0.05


@dataclass(frozen=True)
class Answered:
    """The body to send Retell and what happened on the way."""

    body: dict[str, Any]
    event_id: str
    replayed: bool
    deliveries: int = 0
    declined: bool = False


class InboundService:
    """Rules, contacts and the answer ledger on one engine, with the responders."""

    def __init__(
        self,
        engine: Engine,
        responders: Responders,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = RuleStore(engine, clock=clock)
        self.contacts = ContactStore(engine, clock=clock)
        self.ledger = AnswerLedger(engine, clock=clock)
        self._subscriptions = SubscriptionStore(engine, clock=clock)
        self._responders = responders
        self._clock = clock
        self._purged_at = 0.0

    def close(self) -> None:
        self._responders.close()

    def answer(self, call: InboundCall) -> Answered:
        """The answer for ``call``; the same for every retry of the same request."""
        arrived = time.monotonic()
        now = self._clock()
        event_id = inbound_event_id(call.key, int(now * 1000))
        claim = self.ledger.claim(call.key, event_id, hold_seconds=HOLD_SECONDS)
        if claim.kind == "answered" and claim.answer is not None:
            return Answered(claim.answer, claim.event_id, replayed=True)
        if claim.kind == "pending":
            found = self._wait(call.key, until=time.monotonic() + HOLD_SECONDS)
            if found is not None:
                return Answered(found, claim.event_id, replayed=True)
            log.warning("inbound event %s: the first request never answered", claim.event_id)
            fields, decision = self._defaults(call, now)
            return Answered(wire_answer(fields), claim.event_id, True, declined=decision.declined)
        self._purge(now)
        try:
            return self._work(call, event_id, now, arrived)
        except BaseException:
            self.ledger.release(call.key, event_id)  # a retry must not wait for this one
            raise

    def _work(self, call: InboundCall, event_id: str, now: float, arrived: float) -> Answered:
        fields, decision = self._defaults(call, now)
        subscriptions = self._subscriptions.active()
        agent = fields.get("override_agent_id") or call.agent_id
        asked = [s for s in subscriptions if _responds(s, agent)]
        replies: list[Reply] = []
        received_ms = int(now * 1000)
        if asked and not decision.declined:
            proposal = inbound_event(event_id, call, fields, decision, received_at_ms=received_ms)
            text = jsontext.dumps(proposal)
            replies = self._responders.ask(asked, event_id, text, started=arrived)
            fields, decision, replies = _apply_replies(fields, decision, replies, event_id)
        event = inbound_event(event_id, call, fields, decision, received_at_ms=received_ms)
        final_agent = event["flat"]["agent_id"]
        queued = [
            new_delivery(event_id, sub, now)
            for sub in subscriptions
            if sub.matches(INBOUND_EVENT, final_agent)
        ]
        responded, attempts = _responder_records(event_id, replies, now)
        body = wire_answer(fields)
        self.ledger.record(
            call.key,
            body,
            keep_seconds=KEEP_SECONDS,
            event={
                "id": event_id,
                "dedupe_key": f"{INBOUND_EVENT}:{event_id}",
                "event": INBOUND_EVENT,
                "call_id": call.call_id or "",
                "agent_id": final_agent,
                "body": jsontext.dumps(event),
                "received_at": now,
            },
            queued=[*queued, *responded],
            attempts=attempts,
        )
        return Answered(body, event_id, False, len(queued), decision.declined)

    def _defaults(self, call: InboundCall, now: float) -> tuple[dict[str, Any], Decision]:
        """The answer from the first matching rule and the caller's saved context."""
        rule = first_match(self._usable_rules(), call, dt.datetime.fromtimestamp(now, dt.UTC))
        if rule is not None and rule.decline:
            return {}, Decision(rule.id, rule.name, declined=True)
        try:
            caller = normalize_e164(call.from_number)
        except ValueError:
            caller = None
        contacts = self.contacts.for_caller(caller) if caller else []
        rule_fields = rule.fields if rule is not None else {}
        decision = Decision(
            rule.id if rule else None, rule.name if rule else None, contact_found=bool(contacts)
        )
        fields = merge([rule_fields, *(c.context for c in contacts)])
        for candidate in (fields, rule_fields):
            errors = answer_errors(candidate)
            if not errors:
                return candidate, decision
            reasons = "; ".join(f"{e.path} {e.message}" for e in errors)
            log.error("inbound answer left out saved context or rule fields: %s", reasons)
        return {}, decision

    def _usable_rules(self) -> list[Rule]:
        """Every stored rule that still reads (one whose time zone vanished from the system's
        zone data is skipped and logged, rather than failing every call)."""
        rules = []
        for stored in self.rules.every():
            try:
                rules.append(
                    rule_from_spec(
                        stored.id, stored.owner, stored.position, stored.created_at, stored.spec
                    )
                )
            except (ValueError, Problem) as exc:
                log.error("inbound rule %s skipped: it no longer reads (%s)", stored.id, exc)
        return rules

    def _wait(self, key: str, *, until: float) -> dict[str, Any] | None:
        while time.monotonic() < until:
            found = self.ledger.answered(key)
            if found is not None:
                return found
            time.sleep(_WAIT_STEP_SECONDS)
        return None

    def _purge(self, now: float) -> None:
        if now - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = now
            self.ledger.purge()


def _responds(subscription: Subscription, agent_id: str | None) -> bool:
    """A responder that wants this call (its agent filter, if any, is the call's agent)."""
    if subscription.mode != "respond" or subscription.status != "active":
        return False
    return subscription.agent_id is None or subscription.agent_id == agent_id


def _apply_replies(
    fields: dict[str, Any], decision: Decision, replies: list[Reply], event_id: str
) -> tuple[dict[str, Any], Decision, list[Reply]]:
    """The defaults with the usable replies merged over them, in order; a reply whose
    merge Retell would reject is ignored like an invalid one."""
    kept: list[Reply] = []
    merged = fields
    changed = False
    for reply in replies:
        if reply.fields is None:
            kept.append(reply)
            continue
        candidate = merge([merged, reply.fields])
        errors = answer_errors(candidate)
        if errors:
            reason = "answer ignored: " + "; ".join(f"{e.path} {e.message}" for e in errors)
            log.warning(
                "responder %s ignored for inbound event %s: %s",
                reply.subscription.id,
                event_id,
                reason,
            )
            kept.append(dataclasses.replace(reply, fields=None, error=reason))
            continue
        merged, changed = candidate, changed or bool(reply.fields)
        kept.append(reply)
    if changed:
        decision = dataclasses.replace(decision, answered_by="responder")
    return merged, decision, kept


def _responder_records(
    event_id: str, replies: list[Reply], now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Delivery rows (already settled) and their one attempt each, for the delivery log."""
    rows, attempts = [], []
    for reply in replies:
        row = new_delivery(event_id, reply.subscription, now)
        row.update(
            state="succeeded" if reply.used else "dead",
            attempts=1,
            next_attempt_at=None,
            last_status=reply.status_code,
            last_error=reply.error,
            delivered_at=now if reply.used else None,
        )
        rows.append(row)
        attempts.append(
            {
                "delivery_id": row["id"],
                "attempt": 1,
                "at": now,
                "status_code": reply.status_code,
                "error": reply.error,
                "duration_ms": reply.duration_ms,
                "response_body": reply.excerpt,
            }
        )
    return rows, attempts
