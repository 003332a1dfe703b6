"""Validate a Queue Phone Call request: Create Phone Call's fields plus the queueing ones.

The call's own fields go through ``connector.validation`` exactly as Create Phone Call's do
(same coercions, E.164 checks and messages); the queueing fields (``campaign``,
``not_before``, ``expires_at``, ``call_window``, ``retry``) are checked against their parts
of ``schemas/queue-phone-call.input.json`` and then for what a schema cannot say: times
with an offset, ``not_before`` before ``expires_at``, a window that opens before the call
would expire. Every invalid field is reported at once; nothing is queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from connector.campaigns.policy import RetryPolicy
from connector.campaigns.windows import (
    DEFAULT_WINDOW,
    CallWindow,
    WindowNeverOpens,
    next_opening,
    parse_window,
    window_json,
)
from connector.manifest import schema_validator
from connector.problems import FieldError, ValidationFailed
from connector.validation import schema_errors, validate_create_phone_call

__all__ = ["DEFAULT_CAMPAIGN", "QUEUE_FIELDS", "QueueRequest", "parse_instant", "validate_queue"]

SCHEMA: Final = "queue-phone-call.input.json"
DEFAULT_CAMPAIGN: Final = "default"
QUEUE_FIELDS: Final = ("campaign", "not_before", "expires_at", "call_window", "retry")


@dataclass(frozen=True)
class QueueRequest:
    """A validated request: the call to place and how to queue it."""

    call: dict[str, Any]
    campaign: str = DEFAULT_CAMPAIGN
    not_before: float | None = None
    expires_at: float | None = None
    window: CallWindow | None = None
    window_json: Any = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    idempotency_key: str | None = None

    def canonical(self) -> dict[str, Any]:
        """What identifies the request, for the idempotency fingerprint."""
        return {
            "call": self.call,
            "campaign": self.campaign,
            "not_before": self.not_before,
            "expires_at": self.expires_at,
            "call_window": self.window_json,
            "retry": self.retry.to_json(),
        }


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 date and time with an offset, as an aware datetime; ValueError otherwise."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            "must be a date and time in ISO 8601 with a time zone offset, "
            "like 2026-12-01T09:00:00-05:00 or 2026-12-01T14:00:00Z"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            "must include a time zone offset (Z for UTC, or like -05:00), "
            "so the connector knows which 9 o'clock you mean"
        )
    return moment


def validate_queue(
    body: object,
    *,
    now: float,
    campaign_window: Callable[[str], CallWindow | None] = lambda _name: None,
    default_region: str | None = None,
) -> QueueRequest:
    """The validated request, or ``ValidationFailed`` listing every invalid field.

    ``campaign_window`` gives a campaign's own window (used when the call gives none) to
    check that the call can ring before it expires; ``default_region`` reads national numbers
    as Create Phone Call does (``CONNECTOR_DEFAULT_REGION``).
    """
    if not isinstance(body, dict):
        raise ValidationFailed(
            "The request body must be a JSON object.",
            errors=[FieldError("body", 'must be a JSON object, like {"to_number": "+1..."}')],
        )
    given = {k: v for k, v in body.items() if k in QUEUE_FIELDS and v not in (None, "")}
    errors: dict[str, str] = {}
    call: dict[str, Any] = {}
    key: str | None = None
    try:
        call, key = validate_create_phone_call(
            {k: v for k, v in body.items() if k not in QUEUE_FIELDS},
            default_region=default_region,
        )
    except ValidationFailed as exc:
        errors.update({e.path: e.message for e in exc.errors})
    errors.update(_field_errors(given))
    moments = _moments(given, errors, now)
    window, window_shown = _window(given, errors)
    campaign = str(given.get("campaign", DEFAULT_CAMPAIGN)).strip()
    if not errors:
        _check_reachable(call, window or campaign_window(campaign), moments, now, errors)
    if errors:
        paths = sorted(errors, key=_order(body))
        count = f"{len(paths)} field is" if len(paths) == 1 else f"{len(paths)} fields are"
        raise ValidationFailed(
            f"The call was not queued: {count} invalid ({', '.join(paths)}).",
            errors=[FieldError(path, errors[path]) for path in paths],
        )
    return QueueRequest(
        call=call,
        campaign=campaign,
        not_before=moments.get("not_before"),
        expires_at=moments.get("expires_at"),
        window=window,
        window_json=window_shown,
        retry=RetryPolicy.from_json(given.get("retry")),
        idempotency_key=key,
    )


def _field_errors(given: dict[str, Any]) -> dict[str, str]:
    """Schema errors of the queueing fields, each against its own part of the schema."""
    schema = cast(dict[str, Any], schema_validator(SCHEMA).schema)
    wanted = {k: v for k, v in given.items() if k != "call_window"}  # parse_window's job
    found = schema_errors(wanted, SCHEMA, schema)
    return {path: msg for path, msg in found.items() if path.partition(".")[0] in QUEUE_FIELDS}


def _moments(given: dict[str, Any], errors: dict[str, str], now: float) -> dict[str, float]:
    moments: dict[str, float] = {}
    for name in ("not_before", "expires_at"):
        value = given.get(name)
        if not isinstance(value, str) or name in errors:
            continue
        try:
            moments[name] = parse_instant(value).timestamp()
        except ValueError as exc:
            errors[name] = str(exc)
    start, end = moments.get("not_before"), moments.get("expires_at")
    if end is not None and end <= now:
        errors["expires_at"] = "is in the past; the call would expire before it could be dialled"
    elif start is not None and end is not None and start >= end:
        errors["expires_at"] = f"must be after not_before ({given['not_before']})"
    return moments


def _window(given: dict[str, Any], errors: dict[str, str]) -> tuple[CallWindow | None, Any]:
    if "call_window" not in given:
        return None, None
    try:
        window = parse_window(given["call_window"], field="call_window")
    except ValidationFailed as exc:
        errors.update({e.path: e.message for e in exc.errors})
        return None, None
    return window, window_json(window)


def _check_reachable(
    call: dict[str, Any],
    window: CallWindow | None,
    moments: dict[str, float],
    now: float,
    errors: dict[str, str],
) -> None:
    """The window opens at all for this number, and before the call expires."""
    window = window or DEFAULT_WINDOW
    start = dt.datetime.fromtimestamp(max(now, moments.get("not_before", now)), dt.UTC)
    try:
        opening = next_opening(window, call["to_number"], start)
    except WindowNeverOpens as exc:
        errors["call_window"] = f"never opens for {call['to_number'][:4]}… ({exc})"
        return
    expires = moments.get("expires_at")
    if expires is not None and opening.timestamp() >= expires:
        errors["expires_at"] = (
            f"comes before the calling hours first open ({opening.isoformat()}), "
            "so the call could never be placed"
        )


def _order(body: dict[str, Any]) -> Any:
    schema = cast(dict[str, Any], schema_validator(SCHEMA).schema)
    order: dict[str, int] = {}
    for name in [*schema["properties"], *body]:
        order.setdefault(name, len(order))
    return lambda path: order.get(path.partition(".")[0], len(order))
