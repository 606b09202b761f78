"""Helpers that keep every Batch true to the schema."""

from __future__ import annotations

import polars as pl

from vigil.schema.fields import CORE_FIELDS, DTYPES, F, dtype_of


def empty_batch() -> pl.DataFrame:
    return pl.DataFrame(schema={name: dtype_of(name) for name in CORE_FIELDS})


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing core columns as nulls, cast known fields to their dtype, core first.

    Casts are non-strict: a value that does not fit its dtype (a port of 99999999999)
    becomes null rather than failing the batch; parsers validate what matters first.
    """
    exprs: list[pl.Expr] = []
    for name in CORE_FIELDS:
        if name in df.columns:
            exprs.append(_cast(name, df.schema[name]))
        elif name == F.EVENT_COUNT:
            exprs.append(pl.lit(1, dtype=pl.UInt32).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=dtype_of(name)).alias(name))
    rest = [_cast(c, df.schema[c]) for c in df.columns if c not in CORE_FIELDS]
    out = df.select(exprs + rest)
    if out.schema[F.EVENT_COUNT].is_integer():
        out = out.with_columns(pl.col(F.EVENT_COUNT).fill_null(1))
    return out


def _cast(name: str, current: pl.DataType) -> pl.Expr:
    wanted = DTYPES.get(name)
    if wanted is None or current == wanted:
        return pl.col(name)
    if wanted == pl.Datetime("us", "UTC") and isinstance(current, pl.Datetime):
        if current.time_zone is None:
            return pl.col(name).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return pl.col(name).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return pl.col(name).cast(wanted, strict=False)
