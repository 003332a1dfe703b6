"""Inbound routing rules as stored: one row per rule, the validated rule as JSON.

Each rule belongs to the token that made it (only that token sees or changes it); on a
call every token's rules take part, in one order, since they share one Retell account.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.engine import Row

from connector.flatten import iso_from_ms
from connector.store.tables import inbound_rules

__all__ = ["POSITION_STEP", "RuleStore", "StoredRule"]

POSITION_STEP = 10  # a new rule without a position goes this far after the last one


@dataclass(frozen=True)
class StoredRule:
    """One rule row; ``spec`` is what ``connector.inbound.rules.parse_rule`` returned."""

    id: str
    owner: str
    position: int
    spec: dict[str, Any]
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """The API view (``schemas/inbound-rule.json``)."""
        spec = {k: v for k, v in self.spec.items() if k != "position"}
        return {
            "id": self.id,
            "position": self.position,
            "name": spec.pop("name", None),
            "match": spec.pop("match", {}),
            "decline": spec.pop("decline", False),
            **spec,
            "created_at": iso_from_ms(self.created_at * 1000),
            "updated_at": iso_from_ms(self.updated_at * 1000),
        }

    @classmethod
    def from_row(cls, row: Row[Any]) -> StoredRule:
        return cls(
            row.id, row.owner, row.position, json.loads(row.spec), row.created_at, row.updated_at
        )


class RuleStore:
    """Create, read, replace and delete rules; list every rule for matching."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, owner: str, spec: dict[str, Any]) -> StoredRule:
        now = self._clock()
        with self._engine.begin() as conn:
            position = spec.get("position")
            if position is None:
                last = conn.execute(
                    select(func.max(inbound_rules.c.position)).where(inbound_rules.c.owner == owner)
                ).scalar()
                position = POSITION_STEP if last is None else int(last) + POSITION_STEP
            rule = StoredRule("rule_" + secrets.token_hex(12), owner, position, spec, now, now)
            conn.execute(
                inbound_rules.insert().values(
                    id=rule.id,
                    owner=owner,
                    position=position,
                    spec=json.dumps(spec, ensure_ascii=False),
                    created_at=now,
                    updated_at=now,
                )
            )
        return rule

    def replace(self, owner: str, rule_id: str, spec: dict[str, Any]) -> StoredRule | None:
        """Put ``spec`` in place of the rule (keeping its position unless given); None if absent."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(inbound_rules)
                .where(inbound_rules.c.id == rule_id, inbound_rules.c.owner == owner)
                .with_for_update()
            ).first()
            if row is None:
                return None
            position = spec.get("position", row.position)
            now = self._clock()
            conn.execute(
                update(inbound_rules)
                .where(inbound_rules.c.id == rule_id)
                .values(
                    position=position,
                    spec=json.dumps(spec, ensure_ascii=False),
                    updated_at=now,
                )
            )
        return StoredRule(rule_id, owner, position, spec, row.created_at, now)

    def get(self, owner: str, rule_id: str) -> StoredRule | None:
        query = select(inbound_rules).where(
            inbound_rules.c.id == rule_id, inbound_rules.c.owner == owner
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else StoredRule.from_row(row)

    def of_owner(self, owner: str) -> list[StoredRule]:
        """The token's rules in the order they are tried."""
        return self._select(inbound_rules.c.owner == owner)

    def every(self) -> list[StoredRule]:
        """Every token's rules in the order they are tried (for answering a call)."""
        return self._select(None)

    def delete(self, owner: str, rule_id: str) -> bool:
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(inbound_rules).where(
                    inbound_rules.c.id == rule_id, inbound_rules.c.owner == owner
                )
            )
        return bool(gone.rowcount)

    def _select(self, where: Any) -> list[StoredRule]:
        c = inbound_rules.c
        query = select(inbound_rules).order_by(c.position, c.created_at, c.id)
        if where is not None:
            query = query.where(where)
        with self._engine.connect() as conn:
            return [StoredRule.from_row(row) for row in conn.execute(query)]
