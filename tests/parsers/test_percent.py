"""Percent-decoding of URL paths."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from vigil.parsers.percent import percent_decode


def _decode(*values: str | None) -> list[str | None]:
    return percent_decode(pl.Series(list(values), dtype=pl.String)).to_list()


def test_decodes_escapes_once() -> None:
    """`%20` becomes a space and `%252e` becomes `%2e`, not `.`: one decoding pass."""
    assert _decode("/a%20b", "/%252e%252e/") == ["/a b", "/%2e%2e/"]


def test_plus_stays_literal_in_paths() -> None:
    """`+` is a literal character in a path, not a space."""
    assert _decode("/a+b%2Bc") == ["/a+b+c"]


def test_invalid_sequences_stay_as_they_are() -> None:
    """A lone `%`, `%z1` and a `%4` cut at the end are kept verbatim."""
    assert _decode("/%", "/%z1/x", "/a%4") == ["/%", "/%z1/x", "/a%4"]


def test_bytes_that_are_not_utf8_become_backslash_escapes() -> None:
    """Latin-1 `%E9` and the overlong `%C0%AF` are shown as `\\xe9`, `\\xc0\\xaf`."""
    assert _decode("/caf%E9", "/..%C0%AF..") == ["/caf\\xe9", "/..\\xc0\\xaf.."]


def test_utf8_sequences_decode_to_text() -> None:
    """A valid UTF-8 sequence decodes to its character."""
    assert _decode("/caf%C3%A9") == ["/café"]


def test_nulls_and_plain_values_pass_through() -> None:
    """Nulls stay null and values without `%` are unchanged."""
    assert _decode(None, "/plain", "/x%41") == [None, "/plain", "/xA"]


def test_input_series_is_not_modified() -> None:
    """The caller's series keeps its values."""
    values = pl.Series(["/a%20b"])
    percent_decode(values)
    assert values.to_list() == ["/a%20b"]


@given(st.lists(st.text(alphabet=st.sampled_from("%/aF0 9éz+\x00"), max_size=12), max_size=20))
def test_never_raises_and_keeps_length(values: list[str]) -> None:
    """Any mix of `%`, hex digits and other characters decodes without an error."""
    out = percent_decode(pl.Series(values, dtype=pl.String))
    assert out.len() == len(values)
    assert all((o == v) for o, v in zip(out.to_list(), values, strict=True) if "%" not in v)
