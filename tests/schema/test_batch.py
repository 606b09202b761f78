"""conform: core columns, dtypes, and one spelling per address."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from vigil.schema.batch import conform
from vigil.schema.fields import CORE_FIELDS, F


def test_core_columns_and_counts() -> None:
    """Missing core columns appear as nulls, event.count defaults to 1, ports are cast."""
    out = conform(
        pl.DataFrame({F.TIMESTAMP: [datetime(2026, 1, 1, tzinfo=UTC)], F.SOURCE_PORT: ["22"]})
    )
    assert out.columns[: len(CORE_FIELDS)] == list(CORE_FIELDS)
    assert out[F.EVENT_COUNT].to_list() == [1]
    assert out[F.SOURCE_PORT].dtype == pl.Int32


def test_ipv6_spellings_become_one() -> None:
    """Upper case, unshortened and IPv4-mapped spellings become the canonical text;
    IPv4, hostnames and junk stay as they are."""
    raw = ["2001:DB8:0:0::7", "2001:db8::7", "::ffff:203.0.113.7", "203.0.113.8", "not:an:ip", None]
    out = conform(pl.DataFrame({F.SOURCE_IP: raw, F.DESTINATION_IP: raw}))
    want = ["2001:db8::7", "2001:db8::7", "203.0.113.7", "203.0.113.8", "not:an:ip", None]
    assert out[F.SOURCE_IP].to_list() == want
    assert out[F.DESTINATION_IP].to_list() == want
