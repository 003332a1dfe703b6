"""Saved caller context as stored: one row per (token, caller number in E.164)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import Row

from connector.flatten import iso_from_ms
from connector.store.engine import InsertIfNew
from connector.store.tables import inbound_contacts

__all__ = ["ContactStore", "StoredContact"]

_INSERT_NEW = InsertIfNew(inbound_contacts, inbound_contacts.c.phone_number)


@dataclass(frozen=True)
class StoredContact:
    """One caller's saved context; ``context`` holds the validated answer fields."""

    owner: str
    phone_number: str
    context: dict[str, Any]
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """The API view (``schemas/inbound-contact.json``)."""
        return {
            "phone_number": self.phone_number,
            "dynamic_variables": self.context.get("dynamic_variables", {}),
            "metadata": self.context.get("metadata"),
            "override_agent_id": self.context.get("override_agent_id"),
            "override_agent_version": self.context.get("override_agent_version"),
            "created_at": iso_from_ms(self.created_at * 1000),
            "updated_at": iso_from_ms(self.updated_at * 1000),
        }

    @classmethod
    def from_row(cls, row: Row[Any]) -> StoredContact:
        return cls(
            row.owner, row.phone_number, json.loads(row.context), row.created_at, row.updated_at
        )


class ContactStore:
    """Save (replace), read and delete caller context; find every token's for a caller."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def put(
        self, owner: str, phone_number: str, context: dict[str, Any]
    ) -> tuple[StoredContact, bool]:
        """Save ``context`` for the caller, replacing any before; True when it is new."""
        now = self._clock()
        text = json.dumps(context, ensure_ascii=False)
        c = inbound_contacts.c
        with self._engine.begin() as conn:
            row = {
                "owner": owner,
                "phone_number": phone_number,
                "context": text,
                "created_at": now,
                "updated_at": now,
            }
            created = conn.execute(_INSERT_NEW.on(conn), [row]).first() is not None
            first_saved = now
            if not created:
                first_saved = conn.execute(
                    select(c.created_at)
                    .where(c.owner == owner, c.phone_number == phone_number)
                    .with_for_update()
                ).scalar_one()
                conn.execute(
                    update(inbound_contacts)
                    .where(c.owner == owner, c.phone_number == phone_number)
                    .values(context=text, updated_at=now)
                )
        return StoredContact(owner, phone_number, context, first_saved, now), created

    def get(self, owner: str, phone_number: str) -> StoredContact | None:
        c = inbound_contacts.c
        query = select(inbound_contacts).where(c.owner == owner, c.phone_number == phone_number)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else StoredContact.from_row(row)

    def delete(self, owner: str, phone_number: str) -> bool:
        c = inbound_contacts.c
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(inbound_contacts).where(c.owner == owner, c.phone_number == phone_number)
            )
        return bool(gone.rowcount)

    def of_owner(self, owner: str, *, limit: int = 100) -> list[StoredContact]:
        """The token's saved contexts, most recently saved first."""
        c = inbound_contacts.c
        query = (
            select(inbound_contacts)
            .where(c.owner == owner)
            .order_by(c.updated_at.desc(), c.phone_number)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [StoredContact.from_row(row) for row in conn.execute(query)]

    def for_caller(self, phone_number: str) -> list[StoredContact]:
        """Every token's context for this caller, least recently saved first."""
        c = inbound_contacts.c
        query = (
            select(inbound_contacts)
            .where(c.phone_number == phone_number)
            .order_by(c.updated_at, c.owner)
        )
        with self._engine.connect() as conn:
            return [StoredContact.from_row(row) for row in conn.execute(query)]
