"""The call book: every call the sandbox placed, its phase, and the idempotency keys.

A call's ``phase`` walks registered → ongoing → ended → analyzed (never-connected calls skip
ongoing). ``call_status`` is Retell's own field and ends as ``ended``, ``not_connected`` or
``error``; "analyzed" is a phase, not a status, exactly as with Retell.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.sandbox.conversations import Turn, conversation
from connector.sandbox.scripts import Script, script_for
from connector.sandbox.validation import CreateRequest

__all__ = [
    "IDEMPOTENCY_TTL_SECONDS",
    "PHASES",
    "CallBook",
    "SandboxCall",
    "new_call_id",
    "registered_call",
]

PHASES = ("registered", "ongoing", "ended", "analyzed")
IDEMPOTENCY_TTL_SECONDS = 3600.0  # Retell keeps an idempotency_key for one hour
_ALPHABET = string.ascii_letters + string.digits


def new_call_id() -> str:
    """32 random letters and digits, like Retell's call ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


@dataclass
class SandboxCall:
    """One call: its Retell call object (``data``) plus what the sandbox needs to play it."""

    seq: int
    data: dict[str, Any]
    script: Script
    turns: list[Turn]
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] | None = None
    phase: str = "registered"

    @property
    def call_id(self) -> str:
        return str(self.data["call_id"])

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.data.get("retell_llm_dynamic_variables") or {})


def registered_call(req: CreateRequest) -> SandboxCall:
    """A fresh call in ``registered``, shaped like create-phone-call's 201 body."""
    call_id, script = new_call_id(), script_for(req.to_number)
    data: dict[str, Any] = {
        "call_type": "phone_call",
        "call_id": call_id,
        "agent_id": req.agent.agent_id,
        "agent_version": req.agent_version,
        "agent_name": req.agent.agent_name,
        "call_status": "registered",
        "direction": "outbound",
        "from_number": req.from_number,
        "to_number": req.to_number,
        "telephony_identifier": {"twilio_call_sid": "CA" + call_id.lower()},
        "data_storage_setting": "everything",
        "opt_in_signed_url": False,
    }
    # Retell omits metadata and dynamic variables when they were not given.
    optional = {
        "metadata": req.metadata,
        "retell_llm_dynamic_variables": req.dynamic_variables,
        "custom_sip_headers": req.custom_sip_headers,
    }
    data |= {k: v for k, v in optional.items() if v is not None}
    variables = req.dynamic_variables or {}
    turns = conversation(script.conversation, variables) if script.conversation else []
    return SandboxCall(0, data, script, turns, req.webhook_url, req.webhook_events)


class CallBook:
    """Thread-safe storage; readers always get deep copies of call objects.

    Idempotency keys are kept oldest first, so expiring them looks only at the expired ones
    (rebuilding the whole map on every call made each create slower than the last).
    """

    def __init__(
        self,
        idempotency_ttl: float = IDEMPOTENCY_TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cond = threading.Condition()
        self._calls: dict[str, SandboxCall] = {}
        self._keys: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._ttl = idempotency_ttl
        self._clock = clock
        self._seq = itertools.count(1)

    def add(
        self,
        call: SandboxCall,
        idempotency_key: str | None = None,
        *,
        admit: Callable[[SandboxCall], None] | None = None,
    ) -> tuple[SandboxCall, bool]:
        """Store ``call``, or return the call already placed with ``idempotency_key`` (False).

        ``admit`` runs under the book's lock for a call that is really new (not a replay): it
        may change the call, or raise to refuse it, and then nothing is stored.
        """
        with self._cond:
            now = self._clock()
            while self._keys and now - next(iter(self._keys.values()))[1] >= self._ttl:
                self._keys.popitem(last=False)
            if idempotency_key is not None and idempotency_key in self._keys:
                return self._calls[self._keys[idempotency_key][0]], False
            if admit is not None:
                admit(call)
            call.seq = next(self._seq)
            self._calls[call.call_id] = call
            if idempotency_key is not None:
                self._keys[idempotency_key] = (call.call_id, now)
            self._cond.notify_all()
            return call, True

    def get(self, call_id: str) -> SandboxCall | None:
        """The live record (for the lifecycle); API readers use ``view``."""
        with self._cond:
            return self._calls.get(call_id)

    def view(self, call_id: str) -> dict[str, Any] | None:
        """A copy of the call object as get-call returns it."""
        with self._cond:
            call = self._calls.get(call_id)
            return copy.deepcopy(call.data) if call else None

    def views(self) -> list[tuple[int, dict[str, Any]]]:
        """Every call object with its creation sequence number, oldest first."""
        with self._cond:
            return [(c.seq, copy.deepcopy(c.data)) for c in self._calls.values()]

    def advance(self, call_id: str, phase: str, **fields: Any) -> dict[str, Any]:
        """Move a call to ``phase``, merge ``fields`` into its object, return a copy."""
        with self._cond:
            call = self._calls[call_id]
            call.phase = phase
            call.data.update(fields)
            self._cond.notify_all()
            return copy.deepcopy(call.data)

    def phases(self) -> dict[str, int]:
        """How many calls are in each phase."""
        with self._cond:
            counts = dict.fromkeys(PHASES, 0)
            for call in self._calls.values():
                counts[call.phase] += 1
            return counts

    def wait_for(self, call_id: str, phase: str, timeout: float) -> dict[str, Any]:
        """Block until the call reaches ``phase`` (or later); TimeoutError otherwise."""
        target = PHASES.index(phase)

        def reached() -> bool:
            call = self._calls.get(call_id)
            return call is not None and PHASES.index(call.phase) >= target

        with self._cond:
            if not self._cond.wait_for(reached, timeout):
                raise TimeoutError(f"call {call_id} did not reach {phase} in {timeout} s")
            return copy.deepcopy(self._calls[call_id].data)
