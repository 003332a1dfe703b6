"""Rule matching and rule input: numbers, prefixes, countries, time windows, decline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connector.inbound.request import InboundCall
from connector.inbound.rules import Rule, first_match, parse_rule, rule_from_spec
from connector.problems import ValidationFailed

SALES_LINE = "+14157774444"  # San Francisco: America/Los_Angeles
SUPPORT_LINE = "+16505550123"
LONDON_CALLER = "+442071838750"
SF_CALLER = "+14155550142"
TORONTO_CALLER = "+14165550123"


def at(text: str) -> dt.datetime:
    """An aware UTC instant from ISO text."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


WED_1030_PST = at("2026-12-02T18:30:00")  # Wednesday 10:30 in San Francisco
WED_1900_PST = at("2026-12-03T03:00:00")  # Wednesday 19:00 in San Francisco
SAT_1030_PST = at("2026-12-05T18:30:00")  # Saturday 10:30 in San Francisco
WED_0859_PST = at("2026-12-02T16:59:00")  # Wednesday 08:59 in San Francisco


def call(from_number: str = SF_CALLER, to_number: str = SALES_LINE) -> InboundCall:
    raw = {"from_number": from_number, "to_number": to_number}
    return InboundCall(from_number, to_number, None, None, None, raw)


def rule(match: dict[str, Any], **answer: Any) -> Rule:
    spec = parse_rule({"match": match, **answer})
    return rule_from_spec("rule_1", "owner", 10, 0.0, spec)


BUSINESS_HOURS = {"start": "09:00", "end": "17:00", "days": ["mon-fri"]}


@pytest.mark.parametrize(
    ("match", "incoming", "when", "expected"),
    [
        pytest.param({}, call(), WED_1030_PST, True, id="no-conditions-match-all"),
        pytest.param({"to_numbers": [SALES_LINE]}, call(), WED_1030_PST, True, id="number"),
        pytest.param(
            {"to_numbers": ["+1 (415) 777-4444"]}, call(), WED_1030_PST, True, id="number-format"
        ),
        pytest.param(
            {"to_numbers": [SUPPORT_LINE]}, call(), WED_1030_PST, False, id="other-number"
        ),
        pytest.param(
            {"to_numbers": [SUPPORT_LINE, SALES_LINE]}, call(), WED_1030_PST, True, id="any-number"
        ),
        pytest.param({"caller_prefixes": ["+1415"]}, call(), WED_1030_PST, True, id="prefix"),
        pytest.param(
            {"caller_prefixes": ["+1650", "+44"]}, call(), WED_1030_PST, False, id="other-prefix"
        ),
        pytest.param(
            {"caller_prefixes": ["+44"]}, call(LONDON_CALLER), WED_1030_PST, True, id="uk-prefix"
        ),
        pytest.param({"caller_countries": ["US"]}, call(), WED_1030_PST, True, id="country"),
        pytest.param(
            {"caller_countries": ["us"]}, call(), WED_1030_PST, True, id="country-lower-case"
        ),
        pytest.param(
            {"caller_countries": ["US"]}, call(TORONTO_CALLER), WED_1030_PST, False, id="canada"
        ),
        pytest.param(
            {"caller_countries": ["CA", "GB"]},
            call(LONDON_CALLER),
            WED_1030_PST,
            True,
            id="any-country",
        ),
        pytest.param(
            {"caller_prefixes": ["+1"]}, call("anonymous"), WED_1030_PST, False, id="withheld"
        ),
        pytest.param({"window": BUSINESS_HOURS}, call(), WED_1030_PST, True, id="open"),
        pytest.param({"window": BUSINESS_HOURS}, call(), WED_1900_PST, False, id="after-hours"),
        pytest.param({"window": BUSINESS_HOURS}, call(), WED_0859_PST, False, id="before-hours"),
        pytest.param({"window": BUSINESS_HOURS}, call(), SAT_1030_PST, False, id="weekend"),
        pytest.param(
            {"window": {**BUSINESS_HOURS, "timezone": "Europe/London"}},
            call(),
            WED_1030_PST,  # 18:30 in London
            False,
            id="window-own-zone",
        ),
        pytest.param(
            {"window": BUSINESS_HOURS},
            call(to_number="+442071838750"),
            WED_0859_PST,  # 16:59 in London
            True,
            id="number-zone-not-server-zone",
        ),
        pytest.param(
            {"to_numbers": [SALES_LINE], "caller_countries": ["US"], "window": BUSINESS_HOURS},
            call(),
            WED_1030_PST,
            True,
            id="all-conditions",
        ),
        pytest.param(
            {"to_numbers": [SALES_LINE], "caller_countries": ["GB"], "window": BUSINESS_HOURS},
            call(),
            WED_1030_PST,
            False,
            id="one-condition-fails",
        ),
    ],
)
def test_rule_matching(
    match: dict[str, Any], incoming: InboundCall, when: dt.datetime, expected: bool
) -> None:
    """Every condition given must hold; within a list any entry may."""
    assert rule(match).match.holds(incoming, when) is expected


def ordered(*rules: tuple[str, int, float, dict[str, Any], dict[str, Any]]) -> list[Rule]:
    return [
        rule_from_spec(rule_id, "owner", position, created, parse_rule({"match": m, **answer}))
        for rule_id, position, created, m, answer in rules
    ]


def test_first_match_wins_by_position() -> None:
    """Rules are tried by position, not by the order they are listed in."""
    rules = ordered(
        ("rule_after", 20, 1.0, {}, {"override_agent_id": "after_hours"}),
        ("rule_sales", 10, 2.0, {"window": BUSINESS_HOURS}, {"override_agent_id": "sales"}),
    )
    assert first_match(rules, call(), WED_1030_PST).id == "rule_sales"  # type: ignore[union-attr]
    assert first_match(rules, call(), WED_1900_PST).id == "rule_after"  # type: ignore[union-attr]


def test_equal_positions_oldest_first() -> None:
    """Between rules at the same position, the older one wins."""
    rules = ordered(
        ("rule_new", 10, 5.0, {}, {"override_agent_id": "new"}),
        ("rule_old", 10, 1.0, {}, {"override_agent_id": "old"}),
    )
    assert first_match(rules, call(), WED_1030_PST).id == "rule_old"  # type: ignore[union-attr]


def test_no_rule_matches() -> None:
    """No match is None: the answer then comes from saved context and responders only."""
    rules = ordered(("rule_uk", 10, 1.0, {"caller_countries": ["GB"]}, {}))
    assert first_match(rules, call(), WED_1030_PST) is None


def test_decline_rule() -> None:
    """A declining rule matches like any other and carries no answer fields."""
    (declining,) = ordered(
        ("rule_block", 0, 1.0, {"caller_prefixes": ["+1900"]}, {"decline": True})
    )
    assert declining.decline and declining.fields == {}
    assert first_match([declining], call("+19005550100"), WED_1030_PST) is declining
    assert first_match([declining], call(), WED_1030_PST) is None


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"match": {"to_numbers": ["4157774444"]}}, ["match.to_numbers.0"]),
        ({"match": {"caller_prefixes": ["1415"]}}, ["match.caller_prefixes.0"]),
        ({"match": {"caller_countries": ["XX"]}}, ["match.caller_countries.0"]),
        ({"match": {"caller_countries": ["USA"]}}, ["match.caller_countries.0"]),
        ({"match": {"window": {"start": "17:00", "end": "09:00"}}}, ["match.window.end"]),
        ({"match": {"window": {"start": "9am", "end": "17:00"}}}, ["match.window.start"]),
        ({"match": {"window": {"start": "09:00", "end": "17:00", "timezone": "Mars/Base"}}},
         ["match.window.timezone"]),
        ({"match": {"weekday": "mon"}}, ["match.weekday"]),
        ({"decline": True, "override_agent_id": "agent_1"}, ["decline"]),
        ({"dynamic_variables": {"tags": ["a"]}}, ["dynamic_variables.tags"]),
        ({"override_agent_version": -1}, ["override_agent_version"]),
        ({"metadata": {"blob": "x" * 50_001}}, ["metadata"]),
        ({"position": -1, "name": ""}, ["position", "name"]),
        ({"agent_id": "agent_1"}, ["agent_id"]),
    ],
)  # fmt: skip
def test_rule_input_errors_name_fields(body: dict[str, Any], paths: list[str]) -> None:
    """Each bad rule field is reported by its path, and nothing else."""
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(body)
    assert sorted(e.path for e in caught.value.errors) == sorted(paths)
    assert caught.value.detail.startswith("The rule was not saved")


def test_rule_input_is_normalised() -> None:
    """Numbers become E.164, countries upper case, days spelled out, variables text."""
    spec = parse_rule(
        {
            "name": "Sales",
            "match": {
                "to_numbers": ["+1 415 777 4444"],
                "caller_countries": ["us"],
                "window": {"start": "9:00", "end": "17:00", "days": "mon-wed"},
            },
            "override_agent_version": "3",
            "dynamic_variables": {"priority": 1, "vip": True, "note": None},
            "metadata": None,
        }
    )
    assert spec == {
        "name": "Sales",
        "match": {
            "to_numbers": [SALES_LINE],
            "caller_countries": ["US"],
            "window": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed"]},
        },
        "decline": False,
        "override_agent_version": 3,
        "dynamic_variables": {"priority": "1", "vip": "true", "note": ""},
    }
