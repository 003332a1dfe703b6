"""Create Phone Call validation: every bad field reported at once, good input normalized."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connector.problems import ValidationFailed
from connector.settings import SettingsError, load_settings
from connector.validation import (
    METADATA_LIMIT_BYTES,
    normalize_e164,
    validate_create_phone_call,
    validate_idempotency_key,
)

FROM = "+14157774444"
TO = "+12137774445"


def body(**fields: Any) -> dict[str, Any]:
    """A valid minimal request with ``fields`` added (or replaced)."""
    return {"from_number": FROM, "to_number": TO, **fields}


def without(name: str) -> dict[str, Any]:
    """A valid minimal request missing ``name``."""
    result = body()
    del result[name]
    return result


def metadata_of_size(size: int) -> dict[str, str]:
    """A metadata object whose compact JSON is exactly ``size`` bytes."""
    overhead = len(json.dumps({"k": ""}, separators=(",", ":")))
    return {"k": "x" * (size - overhead)}


def failure(request: object) -> ValidationFailed:
    """The ValidationFailed raised for ``request`` (the test fails if none is)."""
    with pytest.raises(ValidationFailed) as info:
        validate_create_phone_call(request)
    return info.value


BAD: list[tuple[str, object, str]] = [
    ("array body", [body()], "body"),
    ("string body", "from_number=+14157774444", "body"),
    ("null body", None, "body"),
    ("number body", 42, "body"),
    ("empty body", {}, "from_number"),
    ("missing to", without("to_number"), "to_number"),
    ("missing from", without("from_number"), "from_number"),
    ("null to", body(to_number=None), "to_number"),
    ("empty to", body(to_number=""), "to_number"),
    ("to as number", body(to_number=14155550123), "to_number"),
    (
        "to national, From country unknown",
        body(from_number="sip:trunk-1", ignore_e164_validation=True, to_number="(415) 555-0123"),
        "to_number",
    ),
    ("to national, too short for the From country", body(to_number="555-0123"), "to_number"),
    ("to with an unknown country after 00", body(to_number="00 999 123 456"), "to_number"),
    ("from national without a default region", body(from_number="(415) 777-4444"), "from_number"),
    ("to too short", body(to_number="+1415"), "to_number"),
    ("to too long", body(to_number="+1415555012345678"), "to_number"),
    ("to unknown country", body(to_number="+999123456"), "to_number"),
    ("to invalid area code", body(to_number="+1 555 123 4567"), "to_number"),
    ("to vanity letters", body(to_number="+1-800-FLOWERS"), "to_number"),
    ("to with extension", body(to_number="+1 415 555 0123 ext 5"), "to_number"),
    ("to with hash", body(to_number="+1415555#0123"), "to_number"),
    ("to only plus", body(to_number="+"), "to_number"),
    ("from letters", body(from_number="+1 415 CALL NOW"), "from_number"),
    (
        "from empty despite exemption",
        body(from_number="", ignore_e164_validation=True),
        "from_number",
    ),
    ("from invalid without exemption", body(from_number="internal-101"), "from_number"),
    ("agent id empty", body(override_agent_id=""), "override_agent_id"),
    ("agent id number", body(override_agent_id=123), "override_agent_id"),
    ("version negative", body(override_agent_version=-1), "override_agent_version"),
    ("version fraction", body(override_agent_version=1.5), "override_agent_version"),
    ("version blank text", body(override_agent_version="  "), "override_agent_version"),
    ("version boolean", body(override_agent_version=True), "override_agent_version"),
    ("version list", body(override_agent_version=[1]), "override_agent_version"),
    (
        "variables nested object",
        body(retell_llm_dynamic_variables={"customer": {"name": "Jo"}}),
        "retell_llm_dynamic_variables.customer",
    ),
    (
        "variables nested list",
        body(retell_llm_dynamic_variables={"items": ["a", "b"]}),
        "retell_llm_dynamic_variables.items",
    ),
    (
        "variables as text",
        body(retell_llm_dynamic_variables="name=John"),
        "retell_llm_dynamic_variables",
    ),
    ("metadata oversize", body(metadata=metadata_of_size(METADATA_LIMIT_BYTES + 1)), "metadata"),
    ("metadata as text", body(metadata="lead 42"), "metadata"),
    ("metadata as list", body(metadata=[1, 2]), "metadata"),
    ("metadata NaN", body(metadata={"score": float("nan")}), "metadata"),
    ("unknown field typo", body(to_numer=TO), "to_numer"),
    ("unknown field agent_id", body(agent_id="a1"), "agent_id"),
    ("unknown null field", body(webhook_url=None), "webhook_url"),
    ("dnc yes", body(honor_internal_dnc="yes"), "honor_internal_dnc"),
    ("dnc number", body(honor_internal_dnc=1), "honor_internal_dnc"),
    ("e164 flag empty text", body(ignore_e164_validation=""), "ignore_e164_validation"),
    (
        "sip header name with space",
        body(custom_sip_headers={"Bad Header": "x"}),
        "custom_sip_headers.Bad Header",
    ),
    ("sip header name colon", body(custom_sip_headers={"X-A:": "x"}), "custom_sip_headers.X-A:"),
    ("sip header name non-ascii", body(custom_sip_headers={"X-Ä": "x"}), "custom_sip_headers.X-Ä"),
    ("sip header empty name", body(custom_sip_headers={"": "x"}), "custom_sip_headers."),
    ("sip header number value", body(custom_sip_headers={"X-A": 1}), "custom_sip_headers.X-A"),
    (
        "sip header injection",
        body(custom_sip_headers={"X-A": "a\r\nX-B: b"}),
        "custom_sip_headers.X-A",
    ),
    ("sip headers as list", body(custom_sip_headers=["X-A"]), "custom_sip_headers"),
    ("agent override as text", body(agent_override='{"agent": {}}'), "agent_override"),
    ("agent override part not object", body(agent_override={"agent": "x"}), "agent_override.agent"),
    ("idempotency key empty", body(idempotency_key=""), "idempotency_key"),
    ("idempotency key too long", body(idempotency_key="k" * 256), "idempotency_key"),
    ("idempotency key padded", body(idempotency_key=" key "), "idempotency_key"),
    ("idempotency key control char", body(idempotency_key="a\tb"), "idempotency_key"),
    ("idempotency key number", body(idempotency_key=12345), "idempotency_key"),
]


@pytest.mark.parametrize(("request_body", "path"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_names_the_field(request_body: object, path: str) -> None:
    """Each bad input raises ValidationFailed with an error at the expected path."""
    problem = failure(request_body)
    assert path in [error.path for error in problem.errors]
    assert problem.status == 422
    assert all(error.message for error in problem.errors)


GOOD: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    ("minimal", body(), body(), None),
    (
        "formatted numbers",
        body(from_number=" +1 (415) 777-4444 ", to_number="+1.213.777.4445"),
        body(),
        None,
    ),
    (
        "international numbers",
        body(to_number="+44 (0) 20 7946 0958", from_number="+33 6 12 34 56 78"),
        body(to_number="+442079460958", from_number="+33612345678"),
        None,
    ),
    ("to national, From in the US", body(to_number="(213) 777-4445"), body(), None),
    ("to digits only, From in the US", body(to_number="213.777.4445"), body(), None),
    ("to with 1 before the area code", body(to_number="1-213-777-4445"), body(), None),
    (
        "to with the US international prefix",
        body(to_number="011 44 20 7946 0958"),
        body(to_number="+442079460958"),
        None,
    ),
    (
        "to with 00 and the country code, From in the US",
        body(to_number="001 213 777 4445"),
        body(),
        None,
    ),
    (
        "to national, From in the UK",
        body(from_number="+44 20 7946 0000", to_number="020 7946 0958"),
        body(from_number="+442079460000", to_number="+442079460958"),
        None,
    ),
    (
        "to with 00, From in the UK",
        body(from_number="+442079460000", to_number="00 1 213 777 4445"),
        body(from_number="+442079460000"),
        None,
    ),
    (
        "boolean text",
        body(honor_internal_dnc=" TRUE ", ignore_e164_validation="false"),
        body(honor_internal_dnc=True, ignore_e164_validation=False),
        None,
    ),
    (
        "booleans",
        body(honor_internal_dnc=False, ignore_e164_validation=True),
        body(honor_internal_dnc=False, ignore_e164_validation=True),
        None,
    ),
    (
        "dynamic variables coerced",
        body(
            retell_llm_dynamic_variables={
                "name": "Jo",
                "count": 3,
                "vip": True,
                "churned": False,
                "score": 2.5,
                "note": None,
            }
        ),
        body(
            retell_llm_dynamic_variables={
                "name": "Jo",
                "count": "3",
                "vip": "true",
                "churned": "false",
                "score": "2.5",
                "note": "",
            }
        ),
        None,
    ),
    (
        "idempotency key extracted",
        body(idempotency_key="zap-run-1"),
        body(),
        "zap-run-1",
    ),
    (
        "idempotency key with inner spaces",
        body(idempotency_key="lead 42 / first call"),
        body(),
        "lead 42 / first call",
    ),
    (
        "e164 exemption keeps from number",
        body(from_number="internal-101", to_number="+1 213 777 4445", ignore_e164_validation=True),
        body(from_number="internal-101", ignore_e164_validation=True),
        None,
    ),
    (
        "e164 exemption as text",
        body(from_number="sip-line-7", ignore_e164_validation="true"),
        body(from_number="sip-line-7", ignore_e164_validation=True),
        None,
    ),
    ("version zero", body(override_agent_version=0), body(override_agent_version=0), None),
    (
        "numeric version text becomes a number",
        body(override_agent_version=" 3 "),
        body(override_agent_version=3),
        None,
    ),
    (
        "version tag",
        body(override_agent_version="latest_published"),
        body(override_agent_version="latest_published"),
        None,
    ),
    (
        "null optional fields dropped",
        body(metadata=None, override_agent_id=None, honor_internal_dnc=None, idempotency_key=None),
        body(),
        None,
    ),
    (
        "metadata at the limit",
        body(metadata=metadata_of_size(METADATA_LIMIT_BYTES)),
        body(metadata=metadata_of_size(METADATA_LIMIT_BYTES)),
        None,
    ),
    (
        "nested metadata and agent override pass through",
        body(
            metadata={"lead": {"id": 42, "tags": ["a", "b"]}, "ok": True},
            agent_override={"agent": {"voice_id": "v1"}, "retell_llm": {"begin_message": "Hi"}},
            override_agent_id="agent_1",
        ),
        body(
            metadata={"lead": {"id": 42, "tags": ["a", "b"]}, "ok": True},
            agent_override={"agent": {"voice_id": "v1"}, "retell_llm": {"begin_message": "Hi"}},
            override_agent_id="agent_1",
        ),
        None,
    ),
    (
        "sip headers",
        body(custom_sip_headers={"X-Customer-Id": "1042", "x_lower.case~ok": ""}),
        body(custom_sip_headers={"X-Customer-Id": "1042", "x_lower.case~ok": ""}),
        None,
    ),
]


@pytest.mark.parametrize(
    ("request_body", "expected", "key"), [c[1:] for c in GOOD], ids=[c[0] for c in GOOD]
)
def test_good_input_is_normalized(
    request_body: dict[str, Any], expected: dict[str, Any], key: str | None
) -> None:
    """Valid input comes back as Retell's request plus the idempotency key."""
    assert validate_create_phone_call(request_body) == (expected, key)


def test_input_body_is_not_modified() -> None:
    """Normalizing works on a copy; the caller's body is unchanged."""
    original = body(
        to_number="+1 (213) 777-4445",
        retell_llm_dynamic_variables={"n": 1},
        idempotency_key="k",
        honor_internal_dnc="true",
    )
    snapshot = copy.deepcopy(original)
    validate_create_phone_call(original)
    assert original == snapshot


def test_every_invalid_field_is_reported_at_once() -> None:
    """All bad fields appear in one problem, in the form's field order, unknown fields last."""
    problem = failure(
        {
            "surprise": 1,
            "to_number": "+1-800-FLOWERS",
            "metadata": metadata_of_size(METADATA_LIMIT_BYTES + 10),
            "honor_internal_dnc": "maybe",
            "retell_llm_dynamic_variables": {"b": [1], "a": {"x": 1}},
            "idempotency_key": "",
        }
    )
    assert [e.path for e in problem.errors] == [
        "from_number",
        "to_number",
        "retell_llm_dynamic_variables.b",
        "retell_llm_dynamic_variables.a",
        "metadata",
        "honor_internal_dnc",
        "idempotency_key",
        "surprise",
    ]
    assert problem.detail.startswith("The call was not placed: 8 fields are invalid")


@pytest.mark.parametrize(
    ("request_body", "path", "message"),
    [
        (
            body(from_number="sip:trunk-1", ignore_e164_validation=True, to_number="4155550123"),
            "to_number",
            "must be a phone number in E.164 format, like +14155550123",
        ),
        (
            body(to_number="555-0123"),
            "to_number",
            "is not a valid US phone number; for another country, write it with + and the "
            "country code, in E.164 format, like +14155550123",
        ),
        (
            body(to_number="nope"),
            "to_number",
            "must be a phone number in E.164 format, like +14155550123",
        ),
        (without("to_number"), "to_number", "is required"),
        (body(to_numbr=TO), "to_numbr", "is not a known field; did you mean to_number?"),
        (body(honor_internal_dnc="yes"), "honor_internal_dnc", "must be true or false"),
        (body(idempotency_key=""), "idempotency_key", "must not be empty"),
        (body(override_agent_id=5), "override_agent_id", "must be text"),
        (
            body(metadata=metadata_of_size(60_000)),
            "metadata",
            "is 60,000 bytes as JSON, over the limit of 50,000 bytes",
        ),
    ],
)
def test_messages_read_well(request_body: dict[str, Any], path: str, message: str) -> None:
    """Messages are plain words a no-code user can act on."""
    errors = {e.path: e.message for e in failure(request_body).errors}
    assert errors[path] == message


def test_vanity_number_message_mentions_letters() -> None:
    """A vanity number is refused for its letters, not silently translated to digits."""
    errors = {e.path: e.message for e in failure(body(to_number="+1-800-FLOWERS")).errors}
    assert "letters" in errors["to_number"]


def test_problem_renders_every_error() -> None:
    """The problem body lists each field error as {path, message}."""
    rendered = failure(body(to_number="", from_number="x")).to_dict()
    assert rendered["status"] == 422
    assert [e["path"] for e in rendered["errors"]] == ["from_number", "to_number"]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+1.415.555.0123", "+14155550123"),
        ("+49 30 901820", "+4930901820"),
        ("+861012345678", "+861012345678"),
    ],
)
def test_normalize_e164(number: str, expected: str) -> None:
    """normalize_e164 accepts any valid length and removes formatting."""
    assert normalize_e164(number) == expected


@pytest.mark.parametrize("key", ["k", "zap-run-7f3c9a2e", "a b", "~" * 255])
def test_idempotency_key_accepts(key: str) -> None:
    """Printable ASCII keys of 1-255 characters are accepted as given."""
    assert validate_idempotency_key(key, path="Idempotency-Key") == key


@pytest.mark.parametrize("key", ["", " k", "k ", "k" * 256, "a\nb", "clé", None, 7])
def test_idempotency_key_rejects(key: object) -> None:
    """Empty, padded, overlong, non-ASCII and non-text keys are refused, naming the path."""
    with pytest.raises(ValidationFailed) as info:
        validate_idempotency_key(key, path="Idempotency-Key")
    assert [e.path for e in info.value.errors] == ["Idempotency-Key"]


# (label, body, CONNECTOR_DEFAULT_REGION, expected from_number, expected to_number)
REGIONS: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "both national, default US",
        body(from_number="(415) 777-4444", to_number="(213) 777-4445"),
        "US",
        FROM,
        TO,
    ),
    (
        "pseudo From, default UK",
        body(from_number="sip:trunk-1", ignore_e164_validation=True, to_number="020 7946 0958"),
        "GB",
        "sip:trunk-1",
        "+442079460958",
    ),
    (
        "the From number's country wins over the default",
        body(from_number="+442079460000", to_number="020 7946 0958"),
        "US",
        "+442079460000",
        "+442079460958",
    ),
]


@pytest.mark.parametrize(
    ("label", "request_body", "region", "sender", "recipient"), REGIONS, ids=[r[0] for r in REGIONS]
)
def test_default_region_reads_numbers_without_plus(
    label: str, request_body: dict[str, Any], region: str, sender: str, recipient: str
) -> None:
    """The default region reads what the From number cannot place; the From country comes first."""
    request, _key = validate_create_phone_call(request_body, default_region=region)
    assert (request["from_number"], request["to_number"]) == (sender, recipient)


@pytest.mark.parametrize(
    ("number", "region", "expected"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("001 415 555 0123", "US", "+14155550123"),
        ("011 49 30 901820", "US", "+4930901820"),
        ("030 901820", "DE", "+4930901820"),
        ("0049 30 901820", "DE", "+4930901820"),
        ("+49 30 901820", "US", "+4930901820"),
    ],
)
def test_normalize_e164_in_a_region(number: str, region: str, expected: str) -> None:
    """Without a +, a number is read as dialled in the region: national or international."""
    assert normalize_e164(number, region) == expected


@pytest.mark.parametrize("number", ["(415) 555-0123", "001 415 555 0123", "4155550123"])
def test_normalize_e164_without_region_needs_a_plus(number: str) -> None:
    """With no region to read it in, a number without + is refused."""
    with pytest.raises(ValueError, match=r"E\.164"):
        normalize_e164(number)


@pytest.mark.parametrize(("value", "expected"), [("us", "US"), (" gb ", "GB"), ("", None)])
def test_default_region_setting_is_a_region_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: str | None
) -> None:
    """CONNECTOR_DEFAULT_REGION is read case-insensitively; empty means none."""
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("CONNECTOR_DEFAULT_REGION", value)
    settings = load_settings(retell_api_key="k", connector_api_tokens="t" * 16)
    assert settings.connector_default_region == expected


@pytest.mark.parametrize("value", ["USA", "XX", "1"])
def test_unknown_default_region_stops_startup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    """An unknown region code stops start-up with one line naming the setting."""
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("CONNECTOR_DEFAULT_REGION", value)
    with pytest.raises(SettingsError, match="CONNECTOR_DEFAULT_REGION"):
        load_settings(retell_api_key="k", connector_api_tokens="t" * 16)
