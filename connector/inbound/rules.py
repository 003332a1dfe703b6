"""Inbound routing rules: which calls a rule applies to, and what it answers.

A rule's conditions (``match``) all must hold; inside a list, any entry may:

- ``to_numbers``: the Retell number that was called (E.164, compared normalised);
- ``caller_prefixes``: the caller's number starts with one of them (``+1415``);
- ``caller_countries``: ``phonenumbers`` places the caller in one of these regions;
- ``window``: weekdays and a local time span (``connector.campaigns.windows``), read in the
  called number's zone, or the window's own ``timezone``: business hours are the
  business's, not the caller's.

A caller whose number cannot be read (withheld, not E.164) matches no prefix or country
condition but still matches rules without them. Rules are tried by ``(position,
created_at, id)``; the first that matches wins. Pure logic: no Flask, no store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import phonenumbers

from connector.campaigns.windows import CallWindow, is_open, parse_window, window_json
from connector.inbound.answer import ANSWER_FIELDS, coerce_fields, field_errors
from connector.inbound.request import InboundCall
from connector.manifest import schema_validator
from connector.problems import FieldError, ValidationFailed
from connector.validation import normalize_e164, schema_errors

__all__ = ["Match", "Rule", "first_match", "parse_rule", "rule_from_spec"]

INPUT_SCHEMA: Final = "inbound-rule.input.json"


@dataclass(frozen=True)
class Match:
    """A rule's conditions; an empty one matches every call."""

    to_numbers: frozenset[str] = frozenset()
    caller_prefixes: tuple[str, ...] = ()
    caller_countries: frozenset[str] = frozenset()
    window: CallWindow | None = None

    def holds(self, call: InboundCall, at: dt.datetime) -> bool:
        """Whether ``call``, arriving at the aware instant ``at``, meets every condition."""
        if self.to_numbers and _e164(call.to_number) not in self.to_numbers:
            return False
        caller = _e164(call.from_number)
        if self.caller_prefixes and not (
            caller and any(caller.startswith(prefix) for prefix in self.caller_prefixes)
        ):
            return False
        if self.caller_countries and _region(caller) not in self.caller_countries:
            return False
        return self.window is None or is_open(
            self.window, _e164(call.to_number) or call.to_number, at
        )


@dataclass(frozen=True)
class Rule:
    """One stored rule, ready to match."""

    id: str
    owner: str
    position: int
    created_at: float
    name: str | None
    match: Match
    decline: bool
    fields: dict[str, Any]
    """The answer fields it sets (empty when it declines)."""


def first_match(rules: Iterable[Rule], call: InboundCall, at: dt.datetime) -> Rule | None:
    """The first rule, in ``(position, created_at, id)`` order, whose conditions hold."""
    ordered = sorted(rules, key=lambda rule: (rule.position, rule.created_at, rule.id))
    return next((rule for rule in ordered if rule.match.holds(call, at)), None)


def parse_rule(body: object) -> dict[str, Any]:
    """The rule to store from a request body (numbers normalised, window spelled out), or
    ``ValidationFailed`` naming every bad field. ``position`` is kept only when given."""
    if not isinstance(body, dict):
        raise _failed([FieldError("body", "must be a JSON object")])
    raw = {k: v for k, v in body.items() if v is not None}
    raw.update(coerce_fields({k: v for k, v in raw.items() if k in ANSWER_FIELDS}))
    schema: dict[str, Any] = schema_validator(INPUT_SCHEMA).schema
    errors = [
        FieldError(p or "body", m) for p, m in schema_errors(raw, INPUT_SCHEMA, schema).items()
    ]
    fields = {k: raw[k] for k in ANSWER_FIELDS if k in raw}
    if not any(e.path.split(".")[0] in fields for e in errors):
        errors += field_errors(fields)
    if raw.get("decline") is True and fields:
        errors.append(
            FieldError(
                "decline",
                f"a rule that declines the call cannot also set {', '.join(fields)}; "
                "remove those or set decline to false",
            )
        )
    match = raw.get("match")
    spec_match: dict[str, Any] = {}
    if isinstance(match, dict) and not any(e.path.startswith("match") for e in errors):
        spec_match = _parse_match(match, errors)
    if errors:
        raise _failed(errors)
    spec: dict[str, Any] = {
        "name": raw.get("name"),
        "match": spec_match,
        "decline": bool(raw.get("decline", False)),
        **fields,
    }
    if "position" in raw:
        spec["position"] = raw["position"]
    return spec


def rule_from_spec(
    rule_id: str, owner: str, position: int, created_at: float, spec: Mapping[str, Any]
) -> Rule:
    """A ``Rule`` from what ``parse_rule`` stored."""
    match = spec.get("match") or {}
    window = match.get("window")
    return Rule(
        id=rule_id,
        owner=owner,
        position=position,
        created_at=created_at,
        name=spec.get("name"),
        match=Match(
            to_numbers=frozenset(match.get("to_numbers", ())),
            caller_prefixes=tuple(match.get("caller_prefixes", ())),
            caller_countries=frozenset(match.get("caller_countries", ())),
            window=None if window is None else parse_window(window, field="match.window"),
        ),
        decline=bool(spec.get("decline")),
        fields={k: spec[k] for k in ANSWER_FIELDS if k in spec},
    )


def _parse_match(match: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    if "to_numbers" in match:
        numbers = []
        for index, number in enumerate(match["to_numbers"]):
            try:
                numbers.append(normalize_e164(number))
            except ValueError as exc:
                errors.append(FieldError(f"match.to_numbers.{index}", str(exc)))
        parsed["to_numbers"] = list(dict.fromkeys(numbers))
    if "caller_prefixes" in match:
        parsed["caller_prefixes"] = list(match["caller_prefixes"])
    if "caller_countries" in match:
        countries = [code.upper() for code in match["caller_countries"]]
        for index, code in enumerate(countries):
            if phonenumbers.country_code_for_region(code) == 0:
                errors.append(
                    FieldError(f"match.caller_countries.{index}", f"{code} is not a country code")
                )
        parsed["caller_countries"] = list(dict.fromkeys(countries))
    if "window" in match:
        try:
            parsed["window"] = window_json(parse_window(match["window"], field="match.window"))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return parsed


def _failed(errors: list[FieldError]) -> ValidationFailed:
    paths = ", ".join(dict.fromkeys(e.path for e in errors))
    count = "1 field is" if len(errors) == 1 else f"{len(errors)} fields are"
    return ValidationFailed(f"The rule was not saved: {count} invalid ({paths}).", errors=errors)


def _e164(number: str) -> str | None:
    try:
        return normalize_e164(number)
    except ValueError:
        return None


def _region(e164: str | None) -> str | None:
    if e164 is None:
        return None
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
