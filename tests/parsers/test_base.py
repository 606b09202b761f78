"""Helpers every parser shares."""

from __future__ import annotations

import polars as pl

from vigil.parsers.base import by_runs


def test_by_runs_reads_each_run_once_and_spreads_it_back() -> None:
    """Runs of equal values (nulls included) are read once each; the answer is what
    reading every value gives."""
    values = pl.Series(["a", "a", None, None, "b", "a", "a", "a", "c", "c"], dtype=pl.String)
    seen: list[list[str | None]] = []

    def read(texts: pl.Series) -> pl.Series:
        seen.append(texts.to_list())
        return texts.str.to_uppercase() + pl.Series(range(texts.len()), dtype=pl.String)

    assert by_runs(values, read).to_list() == [
        "A0",
        "A0",
        None,
        None,
        "B2",
        "A3",
        "A3",
        "A3",
        "C4",
        "C4",
    ]
    assert seen == [["a", None, "b", "a", "c"]]


def test_by_runs_reads_every_value_when_few_repeat() -> None:
    """Mostly distinct values (and no values) are read as they are."""
    calls: list[int] = []

    def read(texts: pl.Series) -> pl.Series:
        calls.append(texts.len())
        return texts

    distinct = pl.Series(["a", "b", "c", "d", "d"], dtype=pl.String)
    assert by_runs(distinct, read).to_list() == ["a", "b", "c", "d", "d"]
    assert by_runs(pl.Series([], dtype=pl.String), read).to_list() == []
    assert calls == [5, 0]
