"""Calling windows: when a queued call may ring, in the recipient's own time zone.

A lead in New York must not be called at 3 a.m. New York time, whatever the server's
clock says. A window is a daily span of local wall-clock time on chosen weekdays
(default 09:00-20:00, Monday to Saturday), or ``"anytime"``.

Whose local time: the window's explicit ``timezone`` when given; otherwise every zone
``phonenumbers`` places the number in (``recipient_zones``). A number whose prefix
spans several zones (a US toll-free number: Hawaii to Guam) is called only while the
window holds in **all** of them, the intersection. That intersection can be empty on
some days, or for months (a US toll-free number under the default window has a
half-hour overlap in northern winter and none in summer), so ``next_opening`` searches
ahead and raises ``WindowNeverOpens`` past a bound instead of looping.

Wall-clock rules, so daylight-saving changes do what a person expects:

- One opening per local day: from the first instant the local clock shows ``start``
  until the first instant it shows ``end``. On a fall-back day an hour that repeats is
  not opened twice; a window that starts inside the repeated hour opens at its first
  pass.
- A ``start`` or ``end`` that does not exist that day (inside a spring-forward gap)
  falls on the instant the clocks jump, the first moment the clock is past it.
- ``end`` must be after ``start``: a window cannot cross midnight (split it in two
  campaigns instead).

A number without zone data (international freephone +800, satellite networks, text
that is not a number) falls back to ``("UTC",)``: better a window in UTC than no call
at all; give ``timezone`` to be exact. This module is pure logic: no Flask, no store.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import timezone as phone_timezones

from connector.problems import FieldError, ValidationFailed

__all__ = [
    "ANYTIME",
    "DAY_NAMES",
    "DEFAULT_WINDOW",
    "FALLBACK_ZONES",
    "SEARCH_HORIZON",
    "CallWindow",
    "WindowNeverOpens",
    "closes_at",
    "is_open",
    "next_opening",
    "parse_window",
    "recipient_zones",
    "window_json",
    "window_zones",
]

UTC = dt.UTC
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FALLBACK_ZONES = ("UTC",)
SEARCH_HORIZON = dt.timedelta(days=400)
"""How far ``next_opening`` looks ahead: more than a year, so every daylight-saving
pattern has been seen once; a window closed that long never opens."""

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_KEYS = ("start", "end", "days", "timezone")


@dataclass(frozen=True)
class CallWindow:
    """A daily span of local wall-clock time on some weekdays (0 = Monday), or any time.

    ``timezone`` (an IANA name) fixes whose clock counts; without it, the recipient's.
    With ``anytime`` the other fields are ignored.
    """

    start: dt.time
    end: dt.time
    days: frozenset[int]
    timezone: str | None = None
    anytime: bool = False

    def __post_init__(self) -> None:
        if self.anytime:
            return
        if not self.end > self.start:
            raise ValueError("a call window's end must be after its start")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("a call window needs at least one weekday, each 0 (Mon) to 6 (Sun)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("a call window's start and end are local wall-clock times")


DEFAULT_WINDOW = CallWindow(start=dt.time(9), end=dt.time(20), days=frozenset(range(6)))
ANYTIME = CallWindow(start=dt.time(0), end=dt.time(23, 59), days=frozenset(range(7)), anytime=True)


class WindowNeverOpens(ValueError):
    """The window does not open within ``SEARCH_HORIZON`` for this number (an empty
    intersection of its zones, every day): the call can never be placed as asked."""


# -- parsing -----------------------------------------------------------------------------


def parse_window(value: object, *, field: str = "call_window") -> CallWindow:
    """A ``CallWindow`` from what a platform sends, or ``ValidationFailed`` naming each bad field.

    Accepts ``"anytime"`` or ``{"start": "09:00", "end": "20:00", "days": ["mon", ...],
    "timezone": "America/New_York"}``; ``days`` (default Monday to Saturday) and ``timezone``
    (default: the recipient's) are optional. Days may be names (``mon``, ``Monday``),
    ranges (``mon-fri``) or one comma-separated text (``"mon-fri, sun"``).
    """
    if isinstance(value, str) and value.strip().lower() == "anytime":
        return ANYTIME
    if not isinstance(value, dict):
        message = (
            'must be "anytime" or an object such as '
            '{"start": "09:00", "end": "20:00", "days": ["mon", "tue"], '
            '"timezone": "America/New_York"}'
        )
        raise _invalid(field, [FieldError(field, message)])
    errors: list[FieldError] = [
        FieldError(f"{field}.{key}", f"is not a known setting; use {', '.join(_KEYS)}")
        for key in value
        if key not in _KEYS
    ]
    start = _parse_time(value.get("start"), f"{field}.start", errors)
    end = _parse_time(value.get("end"), f"{field}.end", errors)
    if start is not None and end is not None and not end > start:
        errors.append(
            FieldError(
                f"{field}.end",
                f"must be after start ({_hhmm(start)}); a window cannot cross midnight, "
                "so split it into two",
            )
        )
    days = _parse_days(value.get("days"), f"{field}.days", errors)
    zone = _parse_zone(value.get("timezone"), f"{field}.timezone", errors)
    if errors or start is None or end is None or days is None:
        raise _invalid(field, errors)
    return CallWindow(start=start, end=end, days=days, timezone=zone)


def window_json(window: CallWindow) -> str | dict[str, object]:
    """The inverse of ``parse_window``: what to store and show (days always spelled out)."""
    if window.anytime:
        return "anytime"
    shown: dict[str, object] = {
        "start": _hhmm(window.start),
        "end": _hhmm(window.end),
        "days": [DAY_NAMES[day] for day in sorted(window.days)],
    }
    if window.timezone is not None:
        shown["timezone"] = window.timezone
    return shown


def _invalid(field: str, errors: list[FieldError]) -> ValidationFailed:
    paths = ", ".join(dict.fromkeys(error.path for error in errors))
    return ValidationFailed(f"The calling window is invalid ({paths}).", errors=errors)


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def _parse_time(value: object, path: str, errors: list[FieldError]) -> dt.time | None:
    if value is None:
        errors.append(FieldError(path, "is required, as HH:MM (24-hour), e.g. 09:00"))
        return None
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        errors.append(
            FieldError(path, f"must be a time as HH:MM (24-hour), e.g. 09:00, not {value!r}")
        )
        return None
    return dt.time(int(match[1]), int(match[2]))


def _parse_days(value: object, path: str, errors: list[FieldError]) -> frozenset[int] | None:
    if value is None:
        return DEFAULT_WINDOW.days
    if isinstance(value, str):
        items: list[object] = [piece.strip() for piece in value.split(",") if piece.strip()]
    elif isinstance(value, list):
        items = list(value)
    else:
        errors.append(FieldError(path, 'must be a list of weekdays, e.g. ["mon", "tue"]'))
        return None
    days: set[int] = set()
    for index, item in enumerate(items):
        parsed = _parse_day_item(item)
        if parsed is None:
            where = path if isinstance(value, str) else f"{path}.{index}"
            errors.append(
                FieldError(
                    where, f"{item!r} is not a weekday; use mon, tue, wed, thu, fri, sat, sun"
                )
            )
            return None
        days.update(parsed)
    if not days:
        errors.append(FieldError(path, "must name at least one weekday"))
        return None
    return frozenset(days)


def _parse_day_item(item: object) -> list[int] | None:
    """One weekday or a range such as ``mon-fri`` (``fri-mon`` wraps over the weekend)."""
    if not isinstance(item, str):
        return None
    first, dash, last = item.strip().lower().partition("-")
    begin = _day_number(first)
    if not dash:
        return None if begin is None else [begin]
    end = _day_number(last)
    if begin is None or end is None:
        return None
    return [(begin + offset) % 7 for offset in range((end - begin) % 7 + 1)]


def _day_number(name: str) -> int | None:
    name = name.strip()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    return None


def _parse_zone(value: object, path: str, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    name = _canonical_zone(value.strip()) if isinstance(value, str) else None
    if name is None:
        errors.append(
            FieldError(path, f"{value!r} is not a known IANA time zone, e.g. America/New_York")
        )
    return name


def _canonical_zone(name: str) -> str | None:
    """The IANA name as spelled in the database (``america/new_york`` → ``America/New_York``)."""
    canonical = _zone_names().get(name.lower())
    return canonical if canonical is not None and _load_zone(canonical) is not None else None


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every loadable IANA name, by its lower-case spelling."""
    return {name.lower(): name for name in sorted(zoneinfo.available_timezones())}


@functools.cache
def _load_zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


# -- whose clock -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def recipient_zones(e164: str) -> tuple[str, ...]:
    """The IANA zones a number may ring in, per ``phonenumbers``; ``FALLBACK_ZONES`` if none.

    A number ``phonenumbers`` cannot classify still gets the zones of its prefix
    (``+1 212`` → New York); zones the local time-zone database lacks are left out.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return FALLBACK_ZONES
    zones: Iterable[str] = phone_timezones.time_zones_for_number(number)
    if tuple(zones) == (phone_timezones.UNKNOWN_TIMEZONE,):
        zones = phone_timezones.time_zones_for_geographical_number(number)
    known = tuple(name for name in zones if _load_zone(name) is not None)
    return known or FALLBACK_ZONES


def window_zones(window: CallWindow, e164: str) -> tuple[str, ...]:
    """The zones whose clocks the window is read in: its own ``timezone``, else the number's."""
    return (window.timezone,) if window.timezone is not None else recipient_zones(e164)


# -- when ---------------------------------------------------------------------------------


def is_open(window: CallWindow, e164: str, at: dt.datetime) -> bool:
    """Whether a call to ``e164`` may ring at the aware instant ``at``."""
    at = _utc(at, "at")
    if window.anytime:
        return True
    return all(_opening(window, zone, at)[0] <= at for zone in window_zones(window, e164))


def next_opening(
    window: CallWindow,
    e164: str,
    after: dt.datetime,
    *,
    horizon: dt.timedelta = SEARCH_HORIZON,
) -> dt.datetime:
    """The earliest instant (aware, UTC) at or after ``after`` when ``is_open`` holds.

    ``after`` itself when open now. Raises ``WindowNeverOpens`` when the window does not
    open within ``horizon`` (the number's zones never share an opening).
    """
    at = _utc(after, "after")
    if window.anytime:
        return at
    zones = window_zones(window, e164)
    limit = at + horizon
    while at <= limit:
        latest_start = max(_opening(window, zone, at)[0] for zone in zones)
        if latest_start <= at:
            return at
        at = latest_start
    where = zones[0] if len(zones) == 1 else f"all {len(zones)} time zones of {e164[:4]}…"
    raise WindowNeverOpens(
        f"the calling window never opens in {where} within {horizon.days} days; "
        "give it a timezone or widen it"
    )


def closes_at(window: CallWindow, e164: str, at: dt.datetime) -> dt.datetime | None:
    """When the opening in effect at ``at`` ends (aware, UTC); ``None`` for any time.

    When the window is closed at ``at``, the end of the next opening, so the result is
    always after ``next_opening(window, e164, at)``.
    """
    at = _utc(at, "at")
    if window.anytime:
        return None
    opened = next_opening(window, e164, at)
    return min(_opening(window, zone, opened)[1] for zone in window_zones(window, e164))


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive local time")
    return value.astimezone(UTC)


def _opening(window: CallWindow, zone: str, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The zone's opening that contains ``at``, else the first one after it: (start, end) in UTC."""
    tz = _load_zone(zone)
    if tz is None:
        raise ValueError(f"unknown time zone {zone!r}")
    day = at.astimezone(tz).date() - dt.timedelta(days=1)
    # Seven weekdays plus a spare for a calendar day a zone skipped (Samoa, 2011).
    for _ in range(10):
        if day.weekday() in window.days:
            start = _instant(zone, day, window.start)
            end = _instant(zone, day, window.end)
            if end > at and end > start:
                return start, end
        day += dt.timedelta(days=1)
    raise RuntimeError("a window with a weekday opens within ten local days")


@functools.lru_cache(maxsize=65536)
def _instant(zone: str, day: dt.date, wall: dt.time) -> dt.datetime:
    """The first UTC instant at which the zone's clock shows ``wall`` on ``day`` or later.

    An ambiguous time (a fall-back hour) takes its first pass; a time inside a
    spring-forward gap takes the instant the clocks jump.
    """
    tz = _load_zone(zone)
    assert tz is not None
    local = dt.datetime.combine(day, wall)
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap: the two folds read the time with the offsets either side of the jump, so
    # the earlier instant shows less than ``wall`` and the later more. Transitions fall on
    # whole seconds: bisect on them.
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = sorted((int(first.timestamp()), int(second.timestamp())))

    def shows(second: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(second, tz).replace(tzinfo=None)

    while high - low > 1:
        middle = (low + high) // 2
        if shows(middle) >= local:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, UTC)
