"""Timestamps of structured records (JSON lines, CSV) to UTC, vectorised.

A value is read as:
* a number, or a string of one: seconds, milliseconds, microseconds or nanoseconds
  since the epoch, told apart by magnitude (< 1e11 is seconds, which covers years
  up to 5138; < 1e14 milliseconds; < 1e17 microseconds; else nanoseconds);
* an ISO 8601 / RFC 3339 date-time: `T` or a space between date and time, optional
  fraction (`.` or `,`, up to nanoseconds), and a zone `Z`, `+hh:mm`, `+hhmm` or
  `+hh`. Without a zone the time is local to the context's `tz`;
* with an explicit strftime `fmt`, only that format (a `%z` in it is honoured,
  otherwise the time is local to `tz`).
Anything else is null, so the pipeline rejects the record as having no valid time.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from polars.datatypes import DataTypeClass

from vigil.parsers.base import localize
from vigil.schema.fields import TIMESTAMP_DTYPE, F

DType = pl.DataType | DataTypeClass

_INTEGER = r"^[+-]?[0-9]+$"
_DECIMAL = r"^[+-]?[0-9]+\.[0-9]*$"
_ISO_ZONED = "%Y-%m-%dT%H:%M:%S%.f%:z"
# `%#z` takes `Z`, `+hh:mm`, `+hhmm` and `+hh`.
_ISO_FAST = "%Y-%m-%dT%H:%M:%S%.f%#z"
_ISO_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_ROW, _TIME = "_row", "_time"
# Microseconds per unit, chosen by the magnitude of the epoch value.
_SECONDS_BELOW, _MILLIS_BELOW, _MICROS_BELOW = 1e11, 1e14, 1e17


def to_utc(value: pl.Expr, dtype: DType, tz: str, fmt: str | None = None) -> pl.Expr:
    """`value` (a column of dtype `dtype`) as a UTC timestamp, null where unreadable."""
    if isinstance(dtype, pl.Datetime):
        return localize(value, tz) if dtype.time_zone is None else _utc(value)
    if dtype.is_integer():
        return _from_int_epoch(value.cast(pl.Int64, strict=False))
    if dtype.is_float():
        return _from_float_epoch(value.cast(pl.Float64))
    text = value.cast(pl.String).str.strip_chars()
    if fmt is not None:
        return _with_format(text, fmt, tz)
    return (
        pl.when(text.str.contains(_INTEGER))
        .then(_from_int_epoch(text.cast(pl.Int64, strict=False)))
        .when(text.str.contains(_DECIMAL))
        .then(_from_float_epoch(text.cast(pl.Float64, strict=False)))
        .otherwise(_from_iso(text, tz))
    )


def first_times(
    frame: pl.DataFrame, sources: Sequence[tuple[pl.Expr, DType]], tz: str, fmt: str | None = None
) -> pl.Series:
    """Per row of `frame`, the time of the first source that holds a readable one.

    Rows are read in passes, each over the rows still without a time: for text, first
    the common case, RFC 3339 with a zone, in one strptime; then `to_utc` in full. So
    `to_utc`'s regexes and rewrites (each a pass of its own: polars evaluates every
    branch of an expression over every row) see only the rows that need them.
    """
    result = pl.Series(F.TIMESTAMP, [None] * frame.height, dtype=TIMESTAMP_DTYPE)
    rows = frame.with_row_index(_ROW)
    for value, dtype in sources:
        passes = [to_utc(value, dtype, tz, fmt)]
        if fmt is None and dtype == pl.String:
            fast = value.str.strip_chars().str.strptime(TIMESTAMP_DTYPE, _ISO_FAST, strict=False)
            passes.insert(0, fast)
        for one_pass in passes:
            if rows.height == 0:
                return result
            got = rows.select(pl.col(_ROW), one_pass.alias(_TIME))
            read = got.get_column(_TIME).is_not_null()
            if read.all() and rows.height == frame.height:
                return got.get_column(_TIME).alias(F.TIMESTAMP)
            hits = got.filter(read)
            result = result.scatter(hits.get_column(_ROW), hits.get_column(_TIME))
            rows = rows.filter(~read)
    return result


def _from_int_epoch(n: pl.Expr) -> pl.Expr:
    # Integer arithmetic keeps nanosecond inputs exact down to the microsecond.
    size = n.abs()
    micros = (
        pl.when(size < _SECONDS_BELOW)
        .then(n * 1_000_000)
        .when(size < _MILLIS_BELOW)
        .then(n * 1_000)
        .when(size < _MICROS_BELOW)
        .then(n)
        .otherwise(n // 1_000)
    )
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC").cast(TIMESTAMP_DTYPE)


def _from_float_epoch(x: pl.Expr) -> pl.Expr:
    size = x.abs()
    micros = (
        pl.when(size < _SECONDS_BELOW)
        .then(x * 1e6)
        .when(size < _MILLIS_BELOW)
        .then(x * 1e3)
        .when(size < _MICROS_BELOW)
        .then(x)
        .otherwise(x / 1e3)
    )
    # Out-of-range values (1e300, inf, NaN) must become null, not wrap around.
    in_range = micros.is_finite() & (micros.abs() < 9.2e18)
    whole = pl.when(in_range).then(micros.round(0)).cast(pl.Int64, strict=False)
    return pl.from_epoch(whole, time_unit="us").dt.replace_time_zone("UTC").cast(TIMESTAMP_DTYPE)


def _from_iso(text: pl.Expr, tz: str) -> pl.Expr:
    normal = (
        text.str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ Tt]", "${1}T")
        .str.replace(r"(T[0-9:]{8}),", "${1}.")
        .str.replace(r"[Zz]$", "+00:00")
        .str.replace(r"([+-][0-9]{2})([0-9]{2})$", "${1}:${2}")
        .str.replace(r"(T[0-9:.]+[+-][0-9]{2})$", "${1}:00")
    )
    zoned = normal.str.contains(r"T.*[+-][0-9]{2}:[0-9]{2}$")
    return (
        pl.when(zoned)
        .then(_utc(normal.str.strptime(TIMESTAMP_DTYPE, _ISO_ZONED, strict=False)))
        .otherwise(localize(normal.str.strptime(pl.Datetime("us"), _ISO_NAIVE, strict=False), tz))
    )


def _with_format(text: pl.Expr, fmt: str, tz: str) -> pl.Expr:
    if "%z" in fmt or "%:z" in fmt or "%#z" in fmt:
        return _utc(text.str.strptime(TIMESTAMP_DTYPE, fmt, strict=False))
    return localize(text.str.strptime(pl.Datetime("us"), fmt, strict=False), tz)


def _utc(ts: pl.Expr) -> pl.Expr:
    return ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(TIMESTAMP_DTYPE)
