"""The engine's own column names, and the expressions that read a Batch's events.

Names start with an underscore so that no event field can clash with them. `schema` is
the layout of a rule's carried rows as a frame (`RuleState.carry`): what the live
daemon stores as markers of decided episodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import polars as pl

from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.schema.fields import F

H = "_h"  # a hash of the group-by values (see carried.Carried.bucket)
TS = "_ts"  # @timestamp as integer microseconds since the epoch (UTC)
W = "_w"  # weight: event.count, 1 when absent
V = "_v"  # value_count: the counted value; temporal: the rule's position in `rules`
PATH = "_path"
LINE = "_line"
MSG = "_msg"
DONE = "_done"  # lower-bound rules: this row's episode has fired
PEAK = "_peak"  # deferred rules: the largest measure of this row's episode so far
PEAK_AT = "_peak_at"  # ... and the end of the first window that reached it

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def group_columns(spec: CorrelationSpec) -> list[str]:
    return [f"_g{i}" for i in range(len(spec.group_by))]


def key_columns(spec: CorrelationSpec) -> list[str]:
    """Columns that tell keys apart exactly (the hash alone could collide)."""
    return group_columns(spec) or [H]


def schema(spec: CorrelationSpec) -> dict[str, pl.DataType]:
    """The columns a rule's carried state has, in order."""
    cols: dict[str, pl.DataType] = {H: pl.UInt64(), TS: pl.Int64(), W: pl.Int64()}
    cols.update({g: pl.String() for g in group_columns(spec)})
    if spec.kind is CorrelationKind.VALUE_COUNT:
        cols[V] = pl.String()
    elif spec.kind is not CorrelationKind.EVENT_COUNT:
        cols[V] = pl.Int64()
    cols.update({PATH: pl.String(), LINE: pl.Int64(), MSG: pl.String()})
    cols.update({DONE: pl.Boolean(), PEAK: pl.Int64(), PEAK_AT: pl.Int64()})
    return cols


def empty(spec: CorrelationSpec) -> pl.DataFrame:
    return pl.DataFrame(schema=schema(spec))


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("correlation times must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def timestamp(have: Mapping[str, pl.DataType]) -> pl.Expr:
    dtype = have.get(F.TIMESTAMP)
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"matching rows need a Datetime {F.TIMESTAMP!r} column, got {dtype}")
    ts = pl.col(F.TIMESTAMP)
    ts = ts.dt.replace_time_zone("UTC") if dtype.time_zone is None else ts
    return ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(pl.Int64())


def weight(have: Mapping[str, pl.DataType]) -> pl.Expr:
    if F.EVENT_COUNT not in have:
        return pl.lit(1, dtype=pl.Int64())
    return pl.col(F.EVENT_COUNT).cast(pl.Int64(), strict=False).fill_null(1).clip(lower_bound=0)


def text(have: Mapping[str, pl.DataType], name: str | None) -> pl.Expr:
    """Field `name` as text; a typed null when the rows do not have it."""
    if name is None or name not in have:
        return pl.lit(None, dtype=pl.String())
    return pl.col(name).cast(pl.String())


def line(have: Mapping[str, pl.DataType]) -> pl.Expr:
    if F.LOG_FILE_LINE not in have:
        return pl.lit(None, dtype=pl.Int64())
    return pl.col(F.LOG_FILE_LINE).cast(pl.Int64())
