"""Durations as operators write them: `90s`, `10m`, `1h`, `7d`, `1w`, or a number of seconds.

Every duration is at most `MAX_DURATION` (366 days). Durations are added to and taken
from event times (kept within the years 1970-2199) and wall-clock times, and the
correlation windows count them in integer microseconds: a bound of a year and a day
leaves that arithmetic far from any overflow (a `99999999999999d` window cannot even be a
`timedelta`, a `3000000d` one moves a date past the year 9999), while every sensible
window, throttle, ban or retry delay fits under it.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")

MAX_DURATION = timedelta(days=366)
MAX_SECONDS = 366 * 86400
# Why a duration past MAX_DURATION is refused, as error messages end.
AT_MOST = "a duration is at most 366d"


def _too_long(value: object) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{shown} is too long: {AT_MOST}"


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"a duration cannot be negative: {value!r}")
        if value > MAX_DURATION:
            raise ValueError(_too_long(value))
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        number: float = value
    else:
        m = _PATTERN.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 1h, 7d, 1w)")
        # A string of digits never overflows float(): at worst it is inf, refused below.
        number = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if isinstance(number, float) and math.isnan(number):
        raise ValueError(f"not a duration: {value!r}")
    if number < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    # Compared before timedelta() sees it: an int past a float or a day count past
    # timedelta's range would raise OverflowError, which is no validation error.
    if number > MAX_SECONDS:
        raise ValueError(_too_long(value))
    return timedelta(seconds=number)


def _positive(value: timedelta) -> timedelta:
    # Checked on the parsed value: `0.0000001s` rounds to 0 microseconds.
    if value <= timedelta(0):
        raise ValueError("must be longer than 0 s")
    return value


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
# A duration that must be longer than 0 s: a window, a period.
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
