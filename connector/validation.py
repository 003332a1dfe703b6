"""Validate a Create Phone Call request before anything is sent to Retell.

Every invalid field is reported at once, in words a no-code user can act on, because a
platform shows the error once per test run. The rules live in
``schemas/create-phone-call.input.json``; this module adds what a schema cannot say well:
the coercions platforms need (Zapier sends yes/no fields as "true"/"false"), E.164 checks
with the ``phonenumbers`` library, and the metadata size limit.

Phone numbers without a ``+`` are read as dialled from the From number's country (else from
``CONNECTOR_DEFAULT_REGION``): from a +1 number, ``(415) 555-0100`` and ``001 415 555 0100``
both become ``+14155550100``, which is what Retell is sent and what the call shows.

Decisions: ``null`` for an optional field means "not given" (platforms send null for empty
optional inputs); digits-only text for ``override_agent_version`` becomes a number, because
platforms send form numbers as text and Retell would read text as a tag name.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from typing import Any, Final, cast

import phonenumbers
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from connector.manifest import schema_validator
from connector.problems import FieldError, ValidationFailed

__all__ = [
    "INPUT_SCHEMA",
    "METADATA_LIMIT_BYTES",
    "as_text",
    "normalize_e164",
    "region_of",
    "schema_errors",
    "validate_create_phone_call",
    "validate_idempotency_key",
    "validate_object",
]

INPUT_SCHEMA: Final = "create-phone-call.input.json"
METADATA_LIMIT_BYTES: Final = 50_000
E164_EXAMPLE: Final = "in E.164 format, like +14155550123"

CALL_NOT_PLACED = "The call was not placed"  # what a refused Create Phone Call did not do
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-]+", re.ASCII)
_NOT_DIGITS = re.compile(r"[^0-9]", re.ASCII)
_DYNAMIC_VARIABLES = "retell_llm_dynamic_variables"
# Names from Retell's other endpoints that users reach for here.
_ALIASES = {
    "agent_id": "override_agent_id",
    "agent_version": "override_agent_version",
    "dynamic_variables": "retell_llm_dynamic_variables",
}
_TYPE_WORDS = {
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "object": "a set of key-value pairs (a JSON object)",
    "array": "a list",
    "null": "empty",
}


def _schema(name: str) -> dict[str, Any]:
    """The schema behind the cached validator: parsed once per process and shared, so it is
    only ever read here, never changed."""
    return cast(dict[str, Any], schema_validator(name).schema)


def validate_create_phone_call(
    body: object, *, default_region: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """The request to send to Retell and the body's idempotency key, or ValidationFailed.

    The returned request has phone numbers in E.164, coerced booleans and dynamic
    variables, and no ``idempotency_key`` (the caller decides which key goes upstream).
    Numbers without a ``+`` are read in the From number's country, else ``default_region``
    (``CONNECTOR_DEFAULT_REGION``).
    """
    if not isinstance(body, dict):
        message = 'must be a JSON object with the call\'s fields, like {"to_number": "+1..."}'
        raise ValidationFailed(
            "The request body must be a JSON object.", errors=[FieldError("body", message)]
        )
    schema = _schema(INPUT_SCHEMA)
    request = _coerce(body, schema)
    errors = schema_errors(request, INPUT_SCHEMA, schema)
    errors.update(_phone_errors(request, errors, default_region))
    errors.update(_metadata_errors(request, errors))
    if errors:
        raise _failed(errors, schema, body)
    key = request.pop("idempotency_key", None)
    return request, key


def validate_object(body: object, name: str, *, outcome: str = CALL_NOT_PLACED) -> dict[str, Any]:
    """``body`` checked against the schema file ``name``; ValidationFailed lists every field,
    its detail opening with ``outcome`` (what did not happen, in the reader's words)."""
    if not isinstance(body, dict):
        raise ValidationFailed(
            "The request body must be a JSON object.",
            errors=[FieldError("body", "must be a JSON object")],
        )
    schema = _schema(name)
    errors = schema_errors(body, name, schema)
    if errors:
        raise _failed(errors, schema, body, outcome)
    return body


def validate_idempotency_key(value: object, *, path: str = "idempotency_key") -> str:
    """An idempotency key from the body or the ``Idempotency-Key`` header, per the schema."""
    schema = _schema(INPUT_SCHEMA)
    for error in _idempotency_key_validator().iter_errors(value):
        message = _describe(error, schema)[0][1]
        raise ValidationFailed(f"{path} {message}.", errors=[FieldError(path, message)])
    return cast(str, value)


@functools.cache
def _idempotency_key_validator() -> Validator:
    """The ``idempotency_key`` property's validator, built once: it runs on every keyed request."""
    schema = _schema(INPUT_SCHEMA)
    return schema_validator(INPUT_SCHEMA).evolve(schema=schema["properties"]["idempotency_key"])


@functools.lru_cache(maxsize=4096)
def normalize_e164(number: str, region: str | None = None) -> str:
    """``number`` in E.164 (+14155550123), or ValueError with a message for a no-code user.

    ``phonenumbers`` decides validity (any length a country uses, not a regex); letters are
    refused before it sees them, since it would read vanity numbers (1-800-FLOWERS) as digits.
    A number without ``+`` is read as dialled in ``region`` (``US``, ``GB`` ...): national
    formats and that region's international prefix (``011`` from the US, ``00`` from most
    countries) resolve; without a region it is refused. Valid answers are remembered: a
    campaign dials from the same few numbers every call.
    """
    text = number.strip()
    if (not text.startswith("+") and region is None) or not any(c.isdigit() for c in text):
        raise ValueError(f"must be a phone number {E164_EXAMPLE}")
    if any(char.isalpha() for char in text):
        raise ValueError(
            "must not contain letters (vanity numbers like 1-800-FLOWERS and extensions are "
            f"not supported); write it with digits {E164_EXAMPLE}"
        )
    if not _PHONE_CHARS.fullmatch(text):
        raise ValueError(
            f"may contain only digits, spaces, dashes, dots and parentheses after the +, "
            f"{E164_EXAMPLE}"
        )
    try:
        parsed = _parse(text, region)
    except NumberParseException as exc:
        raise ValueError(f"is not a phone number {E164_EXAMPLE} ({_parse_problem(exc)})") from None
    if not text.startswith("+") and not phonenumbers.is_valid_number(parsed):
        raise ValueError(
            f"is not a valid {region} phone number; for another country, write it with + and "
            f"the country code, {E164_EXAMPLE}"
        )
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == ValidationResult.TOO_SHORT:
        raise ValueError(f"is too short for a phone number {E164_EXAMPLE}")
    if reason == ValidationResult.TOO_LONG:
        raise ValueError(f"is too long for a phone number {E164_EXAMPLE}")
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        raise ValueError(f"does not start with a known country code, {E164_EXAMPLE}")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(
            f"is not a valid phone number for country code +{parsed.country_code}; "
            f"check the digits ({E164_EXAMPLE})"
        )
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """``text`` read in ``region``; ``00`` also counts as an international prefix where the
    region's own is another (``001 415 555 0100`` from the US): no valid national number
    starts with ``00``, so the reading is never ambiguous."""
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        if (alternative := _after_double_zero(text)) is None:
            raise
        return alternative
    if text.startswith("+") or phonenumbers.is_valid_number(parsed):
        return parsed
    return _after_double_zero(text) or parsed


def _after_double_zero(text: str) -> phonenumbers.PhoneNumber | None:
    """The valid number ``00`` + country code + number spells, if ``text`` spells one."""
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("+") or not digits.startswith("00"):
        return None
    try:
        parsed = phonenumbers.parse("+" + digits[2:], None)
    except NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


@functools.lru_cache(maxsize=4096)
def region_of(e164: str) -> str | None:
    """The region whose numbering a valid E.164 number follows (``+1…`` → ``US``), if any.

    Remembered like ``normalize_e164``: it parses the From number again on every call, and a
    campaign dials from the same few numbers."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    if parsed.country_code is None or not phonenumbers.is_valid_number(parsed):
        return None
    region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _parse_problem(exc: NumberParseException) -> str:
    if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        return "no known country code after the +"
    if exc.error_type == NumberParseException.TOO_LONG:
        return "too long"
    return "too short"


def _coerce(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The body with platform quirks smoothed over; everything else is left for the schema."""
    properties: dict[str, Any] = schema["properties"]
    request: dict[str, Any] = {}
    for name, value in body.items():
        prop = properties.get(name)
        if prop is None:
            request[name] = value
        elif value is None:
            continue  # an empty optional input; a required one is then reported as missing
        elif prop.get("type") == "boolean" and isinstance(value, str):
            word = value.strip().lower()
            request[name] = {"true": True, "false": False}.get(word, value)
        elif (
            name == "override_agent_version" and isinstance(value, str) and value.strip().isdigit()
        ):
            request[name] = int(value.strip())
        elif name == _DYNAMIC_VARIABLES and isinstance(value, dict):
            request[name] = {key: as_text(item) for key, item in value.items()}
        else:
            request[name] = value
    return request


def as_text(value: object) -> object:
    """A dynamic variable value as Retell wants it: text (nested values are left to fail).

    Shared with inbound answers (``connector.inbound.answer``), which coerce the same way."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def schema_errors(instance: dict[str, Any], name: str, schema: dict[str, Any]) -> dict[str, str]:
    """One message per field path, first error wins (later ones are usually consequences)."""
    errors: dict[str, str] = {}
    for error in schema_validator(name).iter_errors(instance):
        for path, message in _describe(error, schema):
            errors.setdefault(path, message)
    return errors


def _describe(error: ValidationError, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) pairs for one jsonschema error."""
    parts = [str(part) for part in error.absolute_path]
    keyword = str(error.validator)
    if keyword == "required":
        return [
            (".".join([*parts, name]), "is required")
            for name in error.validator_value
            if name not in error.instance
        ]
    if keyword == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        return [
            (".".join([*parts, name]), _unknown_field(name, known))
            for name in error.instance
            if name not in known
        ]
    if "propertyNames" in error.absolute_schema_path:
        parts.append(str(error.instance))
    custom = error.schema.get("x-messages", {}).get(keyword)
    return [(".".join(parts), custom or _default_message(error))]


def _unknown_field(name: str, known: list[str]) -> str:
    close = [_ALIASES[name]] if name in _ALIASES else difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"is not a known field{hint}"


def _default_message(error: ValidationError) -> str:
    keyword, expected = str(error.validator), error.validator_value
    if keyword == "type":
        types = expected if isinstance(expected, list) else [expected]
        return "must be " + " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"must be at most {expected} characters"
    if keyword == "minimum":
        return f"must be {expected} or more"
    if keyword == "maximum":
        return f"must be {expected} or less"
    if keyword == "enum":
        return "must be one of: " + ", ".join(json.dumps(v) for v in expected)
    if keyword == "pattern":
        return "has an invalid format"
    return str(error.message)


def _phone_errors(
    request: dict[str, Any], errors: dict[str, str], default_region: str | None
) -> dict[str, str]:
    """E.164 checks (and normalization in place) for numbers the schema accepted; a To
    number without ``+`` is read in the From number's country, else ``default_region``."""
    found: dict[str, str] = {}
    region = default_region
    sender = request.get("from_number")
    if isinstance(sender, str) and "from_number" not in errors:
        try:
            e164 = normalize_e164(sender, default_region)
        except ValueError as exc:
            # Custom telephony may dial pseudo numbers; Retell skips its check too.
            if request.get("ignore_e164_validation") is not True:
                found["from_number"] = str(exc)
        else:
            if request.get("ignore_e164_validation") is not True:
                request["from_number"] = e164
            region = region_of(e164) or default_region
    recipient = request.get("to_number")
    if isinstance(recipient, str) and "to_number" not in errors:
        try:
            request["to_number"] = normalize_e164(recipient, region)
        except ValueError as exc:
            found["to_number"] = str(exc)
    return found


def _metadata_errors(request: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Retell limits metadata to 50 kB; measured as compact UTF-8 JSON."""
    metadata = request.get("metadata")
    if not isinstance(metadata, dict) or "metadata" in errors:
        return {}
    try:
        text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return {"metadata": "must not contain NaN or Infinity"}
    size = len(text.encode("utf-8"))
    if size > METADATA_LIMIT_BYTES:
        limit = f"{METADATA_LIMIT_BYTES:,}"
        return {"metadata": f"is {size:,} bytes as JSON, over the limit of {limit} bytes"}
    return {}


def _failed(
    errors: dict[str, str],
    schema: dict[str, Any],
    body: dict[str, Any],
    outcome: str = CALL_NOT_PLACED,
) -> ValidationFailed:
    """The problem listing every invalid field, in the form's field order."""
    order: dict[str, int] = {}
    for name in [*schema["properties"], *body]:
        order.setdefault(name, len(order))

    def position(path: str) -> tuple[int, int]:
        top, _, rest = path.partition(".")
        inner = body.get(top)
        keys = list(inner) if isinstance(inner, dict) else []
        return order.get(top, len(order)), keys.index(rest) if rest in keys else -1

    paths = sorted(errors, key=position)
    count = f"{len(paths)} field is" if len(paths) == 1 else f"{len(paths)} fields are"
    return ValidationFailed(
        f"{outcome}: {count} invalid ({', '.join(paths)}).",
        errors=[FieldError(path, errors[path]) for path in paths],
    )
