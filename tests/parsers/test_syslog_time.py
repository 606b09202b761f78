"""Years for yearless syslog timestamps, and ISO timestamps with and without offsets."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from vigil.parsers.base import ParseContext
from vigil.parsers.syslog_time import YearTracker, iso_timestamp

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _resolve(tracker: YearTracker, *texts: str | None, given: int | None = None) -> list[str]:
    bsd = pl.Series(list(texts), dtype=pl.String)
    years = pl.Series([None if given is None else str(given)] * len(texts), dtype=pl.String)
    out = tracker.resolve(bsd, years)
    return [None if t is None else t.isoformat() for t in out.to_list()]


def _tracker(**ctx: object) -> YearTracker:
    return YearTracker(ParseContext("test", now=NOW, **ctx))  # type: ignore[arg-type]


def test_explicit_year_is_the_year_of_the_first_line() -> None:
    """--year applies to the first line, whatever the mtime says."""
    tracker = _tracker(year=2017, mtime=datetime(2026, 1, 1, tzinfo=UTC))
    assert _resolve(tracker, "Mar 27 13:06:56") == ["2017-03-27T13:06:56+00:00"]


def test_mtime_year_when_the_first_line_is_before_the_mtime() -> None:
    """A file written in November 2026 whose first line is in March started in 2026."""
    tracker = _tracker(mtime=datetime(2026, 11, 1, tzinfo=UTC))
    assert _resolve(tracker, "Mar  1 00:00:00") == ["2026-03-01T00:00:00+00:00"]


def test_first_line_after_the_mtime_is_from_the_year_before() -> None:
    """A file last written on Jan 5 whose first line says Dec 30 started the year before."""
    tracker = _tracker(mtime=datetime(2026, 1, 5, tzinfo=UTC))
    assert _resolve(tracker, "Dec 30 10:00:00", "Jan  2 10:00:00") == [
        "2025-12-30T10:00:00+00:00",
        "2026-01-02T10:00:00+00:00",
    ]


def test_now_stands_in_for_the_mtime_of_stdin() -> None:
    """Without mtime (stdin) the reference is ctx.now."""
    assert _resolve(_tracker(), "Dec  1 00:00:00") == ["2025-12-01T00:00:00+00:00"]
    assert _resolve(_tracker(), "Nov 22 11:59:00") == ["2026-11-22T11:59:00+00:00"]


def test_rollover_is_found_across_chunks() -> None:
    """December in one chunk and January in the next: the tracker carries the year."""
    tracker = _tracker(year=2025)
    assert _resolve(tracker, "Dec 31 23:59:59") == ["2025-12-31T23:59:59+00:00"]
    assert _resolve(tracker, "Jan  1 00:00:00") == ["2026-01-01T00:00:00+00:00"]
    assert _resolve(tracker, "Feb  1 00:00:00") == ["2026-02-01T00:00:00+00:00"]


def test_late_line_after_the_rollover_goes_back_one_year_once() -> None:
    """A December line after the new year belongs to the old year, and the January line
    after it is in the new year again (not two years on)."""
    tracker = _tracker(year=2025)
    got = _resolve(
        tracker, "Dec 31 23:59:58", "Jan  1 00:00:02", "Dec 31 23:59:59", "Jan  1 00:00:03"
    )
    assert got == [
        "2025-12-31T23:59:58+00:00",
        "2026-01-01T00:00:02+00:00",
        "2025-12-31T23:59:59+00:00",
        "2026-01-01T00:00:03+00:00",
    ]


def test_lines_without_a_timestamp_do_not_move_the_tracker() -> None:
    """Null texts (lines of other header forms) stay null and keep the month state."""
    tracker = _tracker(year=2025)
    assert _resolve(tracker, "Dec 31 23:00:00", None, "Jan  1 01:00:00") == [
        "2025-12-31T23:00:00+00:00",
        None,
        "2026-01-01T01:00:00+00:00",
    ]


def test_runs_of_equal_stamps_are_read_once_with_the_same_years() -> None:
    """Repeated stamps (read once per run) keep line order, nulls and the roll-over,
    and give what one line each gives."""
    texts = [
        None,
        None,
        "Dec 31 23:59:59",
        "Dec 31 23:59:59",
        None,
        "Dec 31 23:59:59",
        "Jan  1 00:00:00",
        "Jan  1 00:00:00",
        "Jan  1 00:00:00",
        "Dec 31 23:59:59",
        "Jan  1 00:00:01",
        "Jan  1 00:00:01",
    ]
    runs = _resolve(_tracker(year=2025), *texts)
    one_by_one_tracker = _tracker(year=2025)
    one_by_one = [_resolve(one_by_one_tracker, text)[0] for text in texts]
    assert runs == one_by_one
    assert runs[:3] == [None, None, "2025-12-31T23:59:59+00:00"]
    assert runs[8:] == [
        "2026-01-01T00:00:00+00:00",
        "2025-12-31T23:59:59+00:00",
        "2026-01-01T00:00:01+00:00",
        "2026-01-01T00:00:01+00:00",
    ]


def test_a_year_in_the_line_wins_and_leaves_the_tracker_alone() -> None:
    """`2015 Nov 13 ...` keeps 2015; the next yearless line continues from the tracker."""
    tracker = _tracker(year=2026)
    assert _resolve(tracker, "Nov 13 13:40:01", given=2015) == ["2015-11-13T13:40:01+00:00"]
    assert tracker.year is None
    assert _resolve(tracker, "Nov 14 00:00:00") == ["2026-11-14T00:00:00+00:00"]


def test_feb_29_of_a_common_year_is_no_timestamp() -> None:
    """A date that does not exist in the inferred year gives null (a reject later)."""
    assert _resolve(_tracker(year=2026), "Feb 29 10:00:00") == [None]
    assert _resolve(_tracker(year=2024), "Feb 29 10:00:00") == ["2024-02-29T10:00:00+00:00"]


def test_local_zone_and_fractions() -> None:
    """Yearless times are local to ctx.tz; fractional seconds are kept."""
    tracker = _tracker(year=2026, tz="America/New_York")
    assert _resolve(tracker, "Nov 22 10:00:01.250000") == ["2026-11-22T15:00:01.250000+00:00"]


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("2026-11-22T10:00:01.123456", "+01:00", "2026-11-22T09:00:01.123456+00:00"),
        ("2026-11-22T10:00:01", "+0100", "2026-11-22T09:00:01+00:00"),
        ("2026-11-22T10:00:01", "Z", "2026-11-22T10:00:01+00:00"),
        ("2026-11-22T10:00:01,5", "-05:00", "2026-11-22T15:00:01.500000+00:00"),
        ("2026-11-22T10:00:01", None, "2026-11-22T09:00:01+00:00"),
        ("2026-02-30T10:00:01", "Z", None),
    ],
)
def test_iso_timestamps(text: str, offset: str | None, expected: str | None) -> None:
    """ISO/RFC 3339 texts with `Z`, `+hh:mm`, `+hhmm` or no offset (local to the zone)."""
    frame = pl.DataFrame({"t": [text], "o": [offset]}, schema={"t": pl.String, "o": pl.String})
    value = frame.select(iso_timestamp(pl.col("t"), pl.col("o"), "Europe/Berlin")).item()
    assert (None if value is None else value.isoformat()) == expected
