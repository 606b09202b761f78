"""What every parsed chunk must satisfy, whatever its parser (pipeline.chunks)."""

from __future__ import annotations

import json

import polars as pl

from vigil.parsers.base import LINE, ParseContext
from vigil.parsers.jsonl import JsonlParser
from vigil.pipeline.chunks import OUT_OF_RANGE, parse_lines
from vigil.schema.fields import F


def test_event_times_outside_the_taken_years_are_rejects() -> None:
    """A date in year 0, before 1970 or in 9999 (a broken clock, a hostile line) is a
    reject with its reason; the lines around it are events."""
    stamps = ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-11-22T10:00:00Z"]
    stamps += ["2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
    lines = [json.dumps({"@timestamp": s, "message": s}) for s in stamps]
    frame = pl.DataFrame({LINE: lines, F.LOG_FILE_LINE: pl.Series(range(1, 7), dtype=pl.UInt64)})
    result = parse_lines(JsonlParser(ParseContext(origin="t.jsonl")), frame)
    assert result.events.get_column(F.LOG_FILE_LINE).to_list() == [3, 4]
    rejects = result.rejects.sort(F.LOG_FILE_LINE)
    assert rejects.get_column(F.LOG_FILE_LINE).to_list() == [1, 2, 5, 6]
    assert set(rejects.get_column("reason")) == {OUT_OF_RANGE}
