"""Durations as operators write them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vigil.config.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("1h", 3600),
        ("7d", 604800),
        ("1w", 604800),
        (30, 30),
        ("1.5h", 5400),
    ],
)
def test_parse(text: object, seconds: int) -> None:
    """Units s, m, h, d, w and bare numbers of seconds are understood."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["10 minutes", "-5m", "", "h", True, float("nan"), "1e5"])
def test_invalid(text: object) -> None:
    """Anything else is refused with the expected form in the message."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_round_trip() -> None:
    """Formatting picks the largest whole unit."""
    assert [format_duration(timedelta(seconds=s)) for s in (600, 3600, 90, 1209600)] == [
        "10m",
        "1h",
        "90s",
        "2w",
    ]


@pytest.mark.parametrize(
    "text",
    ["367d", "53w", "3000000d", "99999999999999d", "9" * 400, 10**400, float("inf"), 31622401],
)
def test_longer_than_366_days_is_refused(text: object) -> None:
    """Past 366 days is a ValueError (a validation error), never an OverflowError."""
    with pytest.raises(ValueError, match=r"is too long: a duration is at most 366d"):
        parse_duration(text)


def test_366_days_is_the_longest() -> None:
    """366 days, written in any unit, is accepted (also as a timedelta)."""
    longest = timedelta(days=366)
    assert parse_duration("366d") == parse_duration(31622400) == parse_duration(longest) == longest
    with pytest.raises(ValueError, match="at most 366d"):
        parse_duration(longest + timedelta(microseconds=1))
