"""Timestamps of structured records (JSON lines, CSV) to UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from vigil.parsers.timestamps import first_times, to_utc

WHEN = datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)


def _utc(values: list[Any], tz: str = "UTC", fmt: str | None = None) -> list[datetime | None]:
    series = pl.Series("v", values, strict=False)
    return pl.select(to_utc(pl.lit(series), series.dtype, tz, fmt)).to_series().to_list()


@pytest.mark.parametrize(
    "value",
    [
        1795341601,
        1795341601_000,
        1795341601_000_000,
        1795341601_000_000_000,
        "1795341601",
        "1795341601000",
        "1795341601.000",
        "2026-11-22T10:00:01Z",
        "2026-11-22t10:00:01z",
        "2026-11-22 10:00:01+00:00",
        "2026-11-22T11:00:01+01:00",
        "2026-11-22T11:00:01+0100",
        "2026-11-22T11:00:01+01",
        "2026-11-22T05:00:01-05:00",
        "2026-11-22T10:00:01.000000000Z",
        "2026-11-22T10:00:01,000Z",
        " 2026-11-22T10:00:01Z ",
    ],
)
def test_epochs_and_iso_8601_forms_read_as_one_instant(value: Any) -> None:
    """Epoch s/ms/µs/ns (numbers or strings) and RFC 3339 variants give the same UTC time."""
    assert _utc([value]) == [WHEN]


def test_float_epochs_keep_their_fraction() -> None:
    """Fractional seconds and milliseconds as floats keep microseconds."""
    got = _utc([1795341601.25, 1795341601250.5])
    assert got == [WHEN.replace(microsecond=250000), WHEN.replace(microsecond=250500)]


def test_nanosecond_integers_are_exact_to_the_microsecond() -> None:
    """A 19-digit nanosecond epoch is not rounded through a float."""
    assert _utc([1795341601_123456_789]) == [WHEN.replace(microsecond=123456)]


def test_negative_epochs_are_before_1970() -> None:
    """-1 is one second before the epoch."""
    assert _utc([-1]) == [datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)]


@pytest.mark.parametrize(
    "value", [1e300, float("inf"), float("nan"), -1e300, "1e400", "yesterday", "", "10:00:01"]
)
def test_unreadable_values_are_null_not_errors(value: Any) -> None:
    """Out-of-range numbers and text that is no time become null, never an exception."""
    assert _utc([value]) == [None]


def test_huge_integers_are_null_not_wrapped() -> None:
    """An integer beyond what a timestamp can hold does not wrap to some other date."""
    assert _utc(["99999999999999999999999"]) == [None]


def test_times_without_a_zone_are_local_to_tz() -> None:
    """A naive time is in the given zone; one with a zone ignores it."""
    got = _utc(["2026-11-22T11:00:01", "2026-11-22T10:00:01Z"], tz="Europe/Berlin")
    assert got == [WHEN, WHEN]


def test_a_local_time_in_the_dst_gap_is_null() -> None:
    """02:30 on the spring-forward night does not exist in Berlin: null, so rejected."""
    assert _utc(["2026-03-29T02:30:00"], tz="Europe/Berlin") == [None]


def test_an_explicit_format_is_used_alone() -> None:
    """With fmt, only that format is tried: local to tz unless it has %z."""
    assert _utc(["22/11/2026 11:00:01"], tz="Europe/Berlin", fmt="%d/%m/%Y %H:%M:%S") == [WHEN]
    assert _utc(["22/11/2026 11:00:01 +0100"], fmt="%d/%m/%Y %H:%M:%S %z") == [WHEN]
    assert _utc(["2026-11-22T10:00:01Z"], fmt="%d/%m/%Y %H:%M:%S") == [None]


def test_datetime_columns_are_converted_not_reparsed() -> None:
    """A datetime column (naive: local to tz; zoned: converted) becomes UTC µs."""
    naive = pl.Series([datetime(2026, 11, 22, 11, 0, 1)])
    zoned = pl.Series([WHEN]).dt.convert_time_zone("Asia/Tokyo")
    got_naive = pl.select(to_utc(pl.lit(naive), naive.dtype, "Europe/Berlin")).item()
    got_zoned = pl.select(to_utc(pl.lit(zoned), zoned.dtype, "UTC")).item()
    assert got_naive == WHEN
    assert got_zoned == WHEN


def test_first_times_agrees_with_to_utc_and_takes_the_first_readable_source() -> None:
    """The pass-by-pass reading gives what the one expression gives, per source in order."""
    first = ["2026-11-22T10:00:01Z", "nope", "1795341601", None, "2026-11-22 11:00:01", "x"]
    second = ["2000-01-01T00:00:00Z", "2026-11-22T10:00:01+0000", "0", "1795341601.0", "y", "z"]
    frame = pl.DataFrame({"a": first, "b": second})
    got = first_times(
        frame, [(pl.col("a"), pl.String()), (pl.col("b"), pl.String())], "Europe/Berlin"
    )
    expected = frame.select(
        pl.coalesce(
            to_utc(pl.col("a"), pl.String(), "Europe/Berlin"),
            to_utc(pl.col("b"), pl.String(), "Europe/Berlin"),
        )
    ).to_series()
    assert got.to_list() == expected.to_list() == [WHEN, WHEN, WHEN, WHEN, WHEN, None]
    assert got.name == "@timestamp"


def test_first_times_without_sources_is_all_null() -> None:
    """No source at all: a null time for every row."""
    assert first_times(pl.DataFrame({"a": [1, 2]}), [], "UTC").to_list() == [None, None]
