"""Helpers that keep every Batch true to the schema."""

from __future__ import annotations

import ipaddress

import polars as pl

from vigil.schema.fields import CORE_FIELDS, DTYPES, F, dtype_of


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
    return canonical_ips(out)


# Address fields written one way whatever the log wrote, so that counts per address do
# not split: `2001:DB8:0:0::7` and `2001:db8::7` are one attacker, and so are
# `::ffff:203.0.113.7` and `203.0.113.7`.
IP_FIELDS = (F.SOURCE_IP, F.DESTINATION_IP)


def canonical_ips(df: pl.DataFrame) -> pl.DataFrame:
    for name in IP_FIELDS:
        if df.schema.get(name) != pl.String:
            continue
        # Only IPv6 has spellings to unify; a Python pass over the distinct ones (a few
        # per batch) is cheaper than any vectorised rewrite of the text.
        column = df.get_column(name)
        ipv6 = column.str.contains(":", literal=True)
        if not ipv6.any():
            continue
        spelled = column.filter(ipv6)
        mapping = {
            v: c for v in spelled.unique().to_list() if (c := _canonical(v)) is not None and c != v
        }
        if mapping:
            df = df.with_columns(pl.col(name).replace(mapping))
    return df


def _canonical(text: str) -> str | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _cast(name: str, current: pl.DataType) -> pl.Expr:
    wanted = DTYPES.get(name)
    if wanted is None or current == wanted:
        return pl.col(name)
    if wanted == pl.Datetime("us", "UTC") and isinstance(current, pl.Datetime):
        if current.time_zone is None:
            return pl.col(name).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return pl.col(name).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return pl.col(name).cast(wanted, strict=False)
