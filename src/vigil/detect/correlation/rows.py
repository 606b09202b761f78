"""The engine's own columns: matching rows of the referenced rules, made uniform.

Each referenced rule's matches arrive as a slice of a Batch. `normalize` picks the
columns a correlation needs (time, weight, group-by values, counted value, where the
event came from), renames them to internal names that no event field can clash with,
and drops the rows a correlation cannot place: no time, or a null group-by or counted
value. Those are counted, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import polars as pl

from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.schema.fields import F

H = "_h"  # hash of the group-by values: a cheap sort key, checked for collisions
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


def normalize(
    spec: CorrelationSpec, matches: Mapping[str, pl.DataFrame]
) -> tuple[pl.DataFrame, int]:
    """This rule's new rows in the carried-state layout, and how many had to be dropped."""
    parts = [
        _select(spec, position, frame)
        for position, frame in _frames(spec, matches)
        if frame.height > 0
    ]
    if not parts:
        return empty(spec), 0
    rows = pl.concat(parts, how="vertical")
    needed = [TS, *group_columns(spec)] + ([V] if V in rows.columns else [])
    placed = rows.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in needed))
    dropped = rows.height - placed.height
    return placed.with_columns(_hash(spec).alias(H)).select(schema(spec).keys()), dropped


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("correlation times must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _frames(
    spec: CorrelationSpec, matches: Mapping[str, pl.DataFrame]
) -> list[tuple[int, pl.DataFrame]]:
    found: list[tuple[int, pl.DataFrame]] = []
    for position, ref in enumerate(spec.rules):
        # The same rows may be handed over under the rule's name and under its id: take
        # the first key present, so they are never counted twice.
        frame = next((matches[k] for k in ref.keys if k in matches), None)
        if frame is not None:
            found.append((position, frame))
    return found


def _select(spec: CorrelationSpec, position: int, frame: pl.DataFrame) -> pl.DataFrame:
    ref = spec.rules[position]
    have = frame.schema

    def text(name: str | None) -> pl.Expr:
        if name is None or name not in have:
            return pl.lit(None, dtype=pl.String())
        return pl.col(name).cast(pl.String())

    # A rule listed again (A then A in temporal_ordered) hands over the same events once
    # per position; only its first position weighs them, so counts stay true.
    first = next(k for k, r in enumerate(spec.rules) if r.reference == ref.reference)
    weight = _weight(have) if first == position else pl.lit(0, dtype=pl.Int64())
    exprs = [_timestamp(have).alias(TS), weight.alias(W)]
    exprs += [text(f).alias(g) for g, f in zip(group_columns(spec), ref.group_fields, strict=True)]
    if spec.kind is CorrelationKind.VALUE_COUNT:
        exprs.append(text(ref.value_field).alias(V))
    elif spec.kind is not CorrelationKind.EVENT_COUNT:
        exprs.append(pl.lit(position, dtype=pl.Int64()).alias(V))
    line = pl.col(F.LOG_FILE_LINE).cast(pl.Int64()) if F.LOG_FILE_LINE in have else None
    exprs += [
        text(F.LOG_FILE_PATH).alias(PATH),
        (line if line is not None else pl.lit(None, dtype=pl.Int64())).alias(LINE),
        text(F.MESSAGE).alias(MSG),
        pl.lit(value=False).alias(DONE),
        pl.lit(-1, dtype=pl.Int64()).alias(PEAK),
        pl.lit(-1, dtype=pl.Int64()).alias(PEAK_AT),
    ]
    return frame.select(exprs)


def _timestamp(have: Mapping[str, pl.DataType]) -> pl.Expr:
    dtype = have.get(F.TIMESTAMP)
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"matching rows need a Datetime {F.TIMESTAMP!r} column, got {dtype}")
    ts = pl.col(F.TIMESTAMP)
    ts = ts.dt.replace_time_zone("UTC") if dtype.time_zone is None else ts
    return ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(pl.Int64())


def _weight(have: Mapping[str, pl.DataType]) -> pl.Expr:
    if F.EVENT_COUNT not in have:
        return pl.lit(1, dtype=pl.Int64())
    return pl.col(F.EVENT_COUNT).cast(pl.Int64(), strict=False).fill_null(1).clip(lower_bound=0)


def _hash(spec: CorrelationSpec) -> pl.Expr:
    groups = group_columns(spec)
    if not groups:
        return pl.lit(0, dtype=pl.UInt64())
    if len(groups) == 1:
        return pl.col(groups[0]).hash(seed=0)
    return pl.struct(groups).hash(seed=0)
