"""Calling windows: parsing, the recipient's zones, and when a window opens and closes.

Every instant is injected; nothing sleeps or reads the clock.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from connector.campaigns.windows import (
    ANYTIME,
    DEFAULT_WINDOW,
    CallWindow,
    WindowNeverOpens,
    closes_at,
    is_open,
    next_opening,
    parse_window,
    recipient_zones,
    window_json,
    window_zones,
)
from connector.problems import ValidationFailed

UTC = dt.UTC
NEW_YORK = "+12125550100"
LONDON = "+442079460000"
US_TOLL_FREE = "+18005550100"
RUSSIA = "+79161234567"
AUSTRALIA = "+61412345678"
INTERNATIONAL_FREEPHONE = "+80012345678"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def every_day(start: str, end: str, timezone: str | None = None) -> CallWindow:
    window: dict[str, object] = {"start": start, "end": end, "days": "mon-sun"}
    if timezone is not None:
        window["timezone"] = timezone
    return parse_window(window)


NY = "America/New_York"
UK = "Europe/London"

OPENINGS = [
    # (case, window, number, after, expected opening)
    (
        "New York number queued at 02:00 local opens at 09:00 local",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 2),
        local(NY, 2026, 11, 30, 9),
    ),
    (
        "London number queued at 02:00 local (summer time) opens at 09:00 local",
        DEFAULT_WINDOW,
        LONDON,
        local(UK, 2026, 7, 6, 2),
        local(UK, 2026, 7, 6, 9),
    ),
    (
        "London number in winter: local time is UTC",
        DEFAULT_WINDOW,
        LONDON,
        utc(2026, 11, 30, 2),
        utc(2026, 11, 30, 9),
    ),
    (
        "open now: the instant itself",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 12, 34),
        local(NY, 2026, 11, 30, 12, 34),
    ),
    (
        "Sunday is closed by default: Monday 09:00",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 29, 12),
        local(NY, 2026, 11, 30, 9),
    ),
    (
        "Saturday at the closing minute: Monday 09:00",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 28, 20),
        local(NY, 2026, 11, 30, 9),
    ),
    (
        "Friday evening after closing: Saturday 09:00",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 27, 20, 30),
        local(NY, 2026, 11, 28, 9),
    ),
    (
        "US spring-forward: 09:00 on the day of the change is 13:00 UTC, not 14:00",
        every_day("09:00", "20:00"),
        NEW_YORK,
        local(NY, 2026, 3, 7, 23),
        utc(2026, 3, 8, 13),
    ),
    (
        "US spring-forward: a start inside the skipped hour opens when the clocks jump",
        every_day("02:30", "05:00"),
        NEW_YORK,
        local(NY, 2026, 3, 8, 0),
        utc(2026, 3, 8, 7),
    ),
    (
        "US fall-back: 09:00 on the day of the change is 14:00 UTC",
        every_day("09:00", "20:00"),
        NEW_YORK,
        local(NY, 2026, 10, 31, 23),
        utc(2026, 11, 1, 14),
    ),
    (
        "US fall-back: a start inside the repeated hour opens at its first pass",
        every_day("01:30", "05:00"),
        NEW_YORK,
        local(NY, 2026, 11, 1, 0),
        utc(2026, 11, 1, 5, 30),
    ),
    (
        "UK spring-forward: a start inside the skipped hour opens when the clocks jump",
        every_day("01:30", "05:00"),
        LONDON,
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 1),
    ),
    (
        "UK fall-back: a start inside the repeated hour opens at its first pass",
        every_day("01:30", "05:00"),
        LONDON,
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 0, 30),
    ),
    (
        "UK: the Monday after spring-forward opens at 08:00 UTC",
        DEFAULT_WINDOW,
        LONDON,
        utc(2026, 3, 28, 21),
        utc(2026, 3, 30, 8),
    ),
    (
        "an explicit timezone wins over the number's",
        every_day("09:00", "20:00", timezone="Europe/London"),
        NEW_YORK,
        utc(2026, 11, 30, 2),
        utc(2026, 11, 30, 9),
    ),
    (
        "Russia (16 zones): the hour 09:00-20:00 holds from Kaliningrad-ish to Kamchatka",
        DEFAULT_WINDOW,
        RUSSIA,
        utc(2026, 1, 5, 0),
        utc(2026, 1, 5, 7),
    ),
    (
        "Australia in January: 09:00 on Cocos Islands to 20:00 on Lord Howe",
        DEFAULT_WINDOW,
        AUSTRALIA,
        utc(2026, 1, 5, 0),
        utc(2026, 1, 5, 2, 30),
    ),
    (
        "US toll-free in winter: half an hour when Guam's Tuesday meets Newfoundland's Monday",
        DEFAULT_WINDOW,
        US_TOLL_FREE,
        utc(2026, 1, 5, 12),
        utc(2026, 1, 5, 23),
    ),
    (
        "US toll-free on Saturday: Guam's Sunday is closed, so Monday evening (US)",
        DEFAULT_WINDOW,
        US_TOLL_FREE,
        utc(2026, 1, 10, 12),
        utc(2026, 1, 12, 23),
    ),
    (
        "US toll-free in summer: no common hour until the clocks go back in November",
        DEFAULT_WINDOW,
        US_TOLL_FREE,
        utc(2026, 6, 1, 12),
        utc(2026, 11, 2, 23),
    ),
    (
        "a number without zone data is read in UTC",
        DEFAULT_WINDOW,
        INTERNATIONAL_FREEPHONE,
        utc(2026, 11, 30, 2),
        utc(2026, 11, 30, 9),
    ),
    (
        "anytime: the instant itself, even at 3 a.m. on a Sunday",
        ANYTIME,
        NEW_YORK,
        local(NY, 2026, 11, 29, 3),
        local(NY, 2026, 11, 29, 3),
    ),
]


@pytest.mark.parametrize(
    ("window", "number", "after", "expected"),
    [case[1:] for case in OPENINGS],
    ids=[case[0] for case in OPENINGS],
)
def test_next_opening(
    window: CallWindow, number: str, after: dt.datetime, expected: dt.datetime
) -> None:
    """next_opening is the earliest instant at or after `after` when the window is open."""
    opening = next_opening(window, number, after)
    assert opening == expected
    assert opening.tzinfo is UTC
    assert is_open(window, number, opening)


CLOSINGS = [
    # (case, window, number, at, expected end of the opening)
    (
        "New York weekday",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 12),
        local(NY, 2026, 11, 30, 20),
    ),
    (
        "closed now: the end of the next opening",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 29, 12),
        local(NY, 2026, 11, 30, 20),
    ),
    (
        "US spring-forward day: 01:00-04:00 lasts two hours",
        every_day("01:00", "04:00"),
        NEW_YORK,
        local(NY, 2026, 3, 8, 1),
        utc(2026, 3, 8, 8),
    ),
    (
        "US fall-back day: 01:00-01:45 closes at its first 01:45",
        every_day("01:00", "01:45"),
        NEW_YORK,
        local(NY, 2026, 11, 1, 1),
        utc(2026, 11, 1, 5, 45),
    ),
    (
        "UK spring-forward day: an end inside the skipped hour closes when the clocks jump",
        every_day("00:30", "01:30"),
        LONDON,
        utc(2026, 3, 29, 0, 40),
        utc(2026, 3, 29, 1),
    ),
    (
        "Russia: the common hour ends at 20:00 in Kamchatka",
        DEFAULT_WINDOW,
        RUSSIA,
        utc(2026, 1, 5, 7, 30),
        utc(2026, 1, 5, 8),
    ),
    (
        "US toll-free in winter: ends at 19:30 in Newfoundland",
        DEFAULT_WINDOW,
        US_TOLL_FREE,
        utc(2026, 1, 5, 23, 10),
        utc(2026, 1, 5, 23, 30),
    ),
]


@pytest.mark.parametrize(
    ("window", "number", "at", "expected"),
    [case[1:] for case in CLOSINGS],
    ids=[case[0] for case in CLOSINGS],
)
def test_closes_at(window: CallWindow, number: str, at: dt.datetime, expected: dt.datetime) -> None:
    """closes_at is the end of the opening in effect (or the next one when closed)."""
    assert closes_at(window, number, at) == expected


def test_closes_at_anytime_is_none() -> None:
    """An "anytime" window never closes."""
    assert closes_at(ANYTIME, NEW_YORK, utc(2026, 11, 29, 3)) is None


OPEN_OR_NOT = [
    (
        "New York 08:59 local is closed",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 8, 59),
        False,
    ),
    ("New York 09:00 local is open", DEFAULT_WINDOW, NEW_YORK, local(NY, 2026, 11, 30, 9), True),
    (
        "New York 19:59 local is open",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 19, 59),
        True,
    ),
    (
        "the end is exclusive: 20:00 is closed",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(NY, 2026, 11, 30, 20),
        False,
    ),
    (
        "London 10:00 local is 05:00 in New York",
        DEFAULT_WINDOW,
        NEW_YORK,
        local(UK, 2026, 11, 30, 10),
        False,
    ),
    ("Sunday is closed", DEFAULT_WINDOW, NEW_YORK, local(NY, 2026, 11, 29, 12), False),
    (
        "the repeated hour is not opened twice",
        every_day("01:00", "01:45"),
        NEW_YORK,
        local(NY, 2026, 11, 1, 1, 15, fold=1),
        False,
    ),
    (
        "the first pass of the repeated hour is open",
        every_day("01:00", "01:45"),
        NEW_YORK,
        local(NY, 2026, 11, 1, 1, 15, fold=0),
        True,
    ),
    (
        "Russia: 08:30 UTC is 20:30 in Kamchatka",
        DEFAULT_WINDOW,
        RUSSIA,
        utc(2026, 1, 5, 8, 30),
        False,
    ),
    (
        "explicit timezone: 09:30 in London for a New York number",
        every_day("09:00", "20:00", "Europe/London"),
        NEW_YORK,
        utc(2026, 11, 30, 9, 30),
        True,
    ),
    ("anytime at 3 a.m.", ANYTIME, NEW_YORK, local(NY, 2026, 11, 29, 3), True),
]


@pytest.mark.parametrize(
    ("window", "number", "at", "expected"),
    [case[1:] for case in OPEN_OR_NOT],
    ids=[case[0] for case in OPEN_OR_NOT],
)
def test_is_open(window: CallWindow, number: str, at: dt.datetime, expected: bool) -> None:
    """is_open reads the window in every zone the number may ring in."""
    assert is_open(window, number, at) is expected


def test_next_opening_raises_when_the_zones_never_share_an_hour() -> None:
    """An empty intersection for longer than the horizon raises instead of looping."""
    with pytest.raises(WindowNeverOpens, match="42 time zones"):
        next_opening(DEFAULT_WINDOW, US_TOLL_FREE, utc(2026, 6, 1), horizon=dt.timedelta(days=60))


def test_next_opening_raises_for_a_window_that_can_never_open() -> None:
    """Two zones 12 hours apart never share a one-hour window, within the default bound."""
    window = parse_window({"start": "09:00", "end": "10:00"})
    with pytest.raises(WindowNeverOpens, match="never opens"):
        next_opening(window, RUSSIA, utc(2026, 1, 5))


def test_naive_instants_are_refused() -> None:
    """A naive datetime is ambiguous (whose clock?), so it is refused."""
    with pytest.raises(ValueError, match="aware"):
        is_open(DEFAULT_WINDOW, NEW_YORK, dt.datetime(2026, 11, 30, 12))


ZONES = [
    ("New York geographic number", NEW_YORK, ("America/New_York",)),
    ("London geographic number", LONDON, ("Europe/London",)),
    (
        "a UK mobile-range number phonenumbers calls invalid keeps its prefix's zones",
        "+447700900123",
        ("Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"),
    ),
    ("international freephone has no zone: UTC", INTERNATIONAL_FREEPHONE, ("UTC",)),
    ("text that is not a number: UTC", "not a number", ("UTC",)),
]


@pytest.mark.parametrize(("number", "expected"), [c[1:] for c in ZONES], ids=[c[0] for c in ZONES])
def test_recipient_zones(number: str, expected: tuple[str, ...]) -> None:
    """recipient_zones follows phonenumbers, with a documented fallback."""
    assert recipient_zones(number) == expected


def test_recipient_zones_of_a_toll_free_number_span_the_plan() -> None:
    """A US toll-free number may ring anywhere from Pago Pago to Guam."""
    zones = recipient_zones(US_TOLL_FREE)
    assert {"America/New_York", "Pacific/Honolulu", "Pacific/Guam", "America/St_Johns"} <= set(
        zones
    )


def test_window_zones_prefers_the_explicit_timezone() -> None:
    """The window's own timezone replaces the number's zones."""
    window = every_day("09:00", "20:00", timezone="Asia/Tokyo")
    assert window_zones(window, US_TOLL_FREE) == ("Asia/Tokyo",)


# -- brute force: the wall-clock definition, minute by minute --------------------------


def open_by_wall_clock(window: CallWindow, zones: tuple[str, ...], at: dt.datetime) -> bool:
    for zone in zones:
        seen = at.astimezone(ZoneInfo(zone))
        if seen.weekday() not in window.days or not window.start <= seen.time() < window.end:
            return False
    return True


@pytest.mark.parametrize("number", [NEW_YORK, LONDON, RUSSIA, AUSTRALIA])
def test_next_opening_agrees_with_a_minute_by_minute_scan(number: str) -> None:
    """Away from repeated hours, next_opening is the first minute a scan finds open."""
    rng = random.Random(number)
    zones = recipient_zones(number)
    for _ in range(8):
        after = utc(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        scan = after
        while not open_by_wall_clock(DEFAULT_WINDOW, zones, scan):
            scan += dt.timedelta(minutes=1)
        assert next_opening(DEFAULT_WINDOW, number, after) == scan


# -- parsing --------------------------------------------------------------------------


PARSED = [
    ("anytime", "anytime", ANYTIME),
    ("anytime, any case", " AnyTime ", ANYTIME),
    (
        "start and end only: Monday to Saturday, the recipient's zone",
        {"start": "09:00", "end": "20:00"},
        DEFAULT_WINDOW,
    ),
    (
        "everything given",
        {
            "start": "8:30",
            "end": "17:00",
            "days": ["mon", "Wednesday", "FRI"],
            "timezone": "America/Chicago",
        },
        CallWindow(dt.time(8, 30), dt.time(17), frozenset({0, 2, 4}), "America/Chicago"),
    ),
    (
        "a range and a comma-separated text",
        {"start": "09:00", "end": "12:00", "days": "mon-wed, sun"},
        CallWindow(dt.time(9), dt.time(12), frozenset({0, 1, 2, 6})),
    ),
    (
        "a range over the weekend wraps",
        {"start": "09:00", "end": "12:00", "days": ["fri-mon"]},
        CallWindow(dt.time(9), dt.time(12), frozenset({4, 5, 6, 0})),
    ),
    (
        "a time zone in the wrong case is spelled as IANA spells it",
        {"start": "09:00", "end": "12:00", "timezone": "europe/london"},
        CallWindow(dt.time(9), dt.time(12), DEFAULT_WINDOW.days, "Europe/London"),
    ),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse_window(value: object, expected: CallWindow) -> None:
    """parse_window accepts what a platform user would type."""
    assert parse_window(value) == expected


@pytest.mark.parametrize(
    "window",
    [
        ANYTIME,
        DEFAULT_WINDOW,
        CallWindow(dt.time(8, 5), dt.time(17, 45), frozenset({6, 0}), "Australia/Lord_Howe"),
    ],
    ids=["anytime", "default", "every field"],
)
def test_window_json_round_trips(window: CallWindow) -> None:
    """window_json is what parse_window reads back to the same window."""
    assert parse_window(window_json(window)) == window


def test_window_json_spells_the_days_out() -> None:
    """The stored form names the days, so a reader needs no default to understand it."""
    assert window_json(DEFAULT_WINDOW) == {
        "start": "09:00",
        "end": "20:00",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
    }


INVALID = [
    # (case, value, path, words in the message)
    (
        "end before start",
        {"start": "20:00", "end": "09:00"},
        "call_window.end",
        "cannot cross midnight",
    ),
    (
        "end equal to start",
        {"start": "09:00", "end": "09:00"},
        "call_window.end",
        "after start (09:00)",
    ),
    ("bad start", {"start": "9am", "end": "20:00"}, "call_window.start", "HH:MM"),
    ("hour 24", {"start": "09:00", "end": "24:00"}, "call_window.end", "HH:MM"),
    ("minute 60", {"start": "09:60", "end": "20:00"}, "call_window.start", "HH:MM"),
    ("start is a number", {"start": 9, "end": "20:00"}, "call_window.start", "HH:MM"),
    ("missing start", {"end": "20:00"}, "call_window.start", "required"),
    ("missing end", {"start": "09:00"}, "call_window.end", "required"),
    (
        "unknown day",
        {"start": "09:00", "end": "20:00", "days": ["mon", "funday"]},
        "call_window.days.1",
        "'funday' is not a weekday",
    ),
    (
        "unknown day in a text",
        {"start": "09:00", "end": "20:00", "days": "mon, xyz"},
        "call_window.days",
        "'xyz' is not a weekday",
    ),
    (
        "a day as a number",
        {"start": "09:00", "end": "20:00", "days": [1]},
        "call_window.days.0",
        "not a weekday",
    ),
    (
        "empty days",
        {"start": "09:00", "end": "20:00", "days": []},
        "call_window.days",
        "at least one weekday",
    ),
    (
        "empty days text",
        {"start": "09:00", "end": "20:00", "days": " "},
        "call_window.days",
        "at least one weekday",
    ),
    (
        "days as an object",
        {"start": "09:00", "end": "20:00", "days": {"mon": True}},
        "call_window.days",
        "list of weekdays",
    ),
    (
        "unknown timezone",
        {"start": "09:00", "end": "20:00", "timezone": "Mars/Olympus_Mons"},
        "call_window.timezone",
        "IANA",
    ),
    (
        "a path as timezone",
        {"start": "09:00", "end": "20:00", "timezone": "../../etc/passwd"},
        "call_window.timezone",
        "IANA",
    ),
    (
        "timezone as a number",
        {"start": "09:00", "end": "20:00", "timezone": 5},
        "call_window.timezone",
        "IANA",
    ),
    (
        "unknown key",
        {"start": "09:00", "end": "20:00", "tz": "UTC"},
        "call_window.tz",
        "not a known setting",
    ),
    ("neither anytime nor an object", "always", "call_window", '"anytime"'),
    ("null", None, "call_window", '"anytime"'),
    ("a list", ["09:00", "20:00"], "call_window", '"anytime"'),
]


@pytest.mark.parametrize(
    ("value", "path", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_parse_window_errors_name_the_field(value: object, path: str, words: str) -> None:
    """Each bad part of a window gets a 422 error at its own path, in plain words."""
    with pytest.raises(ValidationFailed) as caught:
        parse_window(value)
    errors = {error.path: error.message for error in caught.value.errors}
    assert path in errors
    assert words in errors[path]
    assert path in caught.value.detail


def test_parse_window_reports_every_bad_field_at_once() -> None:
    """A user fixes all mistakes in one round, not one per attempt."""
    with pytest.raises(ValidationFailed) as caught:
        parse_window(
            {"start": "25:00", "end": "x", "days": ["someday"], "timezone": "Nowhere"},
            field="window",
        )
    assert [error.path for error in caught.value.errors] == [
        "window.start",
        "window.end",
        "window.days.0",
        "window.timezone",
    ]


def test_call_window_refuses_an_impossible_window() -> None:
    """Code that builds a window directly gets the same rule as users: end after start."""
    with pytest.raises(ValueError, match="after its start"):
        CallWindow(dt.time(20), dt.time(9), frozenset({0}))


def test_every_zone_phonenumbers_knows_is_in_the_time_zone_database() -> None:
    """No number silently falls back to UTC because a zone is missing here (tzdata installed)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    zones = {zone for entry in TIMEZONE_DATA.values() for zone in entry}
    zones.discard("Etc/Unknown")
    missing = [
        zone
        for zone in sorted(zones)
        if parse_window({"start": "09:00", "end": "10:00", "timezone": zone}).timezone != zone
    ]
    assert missing == []
