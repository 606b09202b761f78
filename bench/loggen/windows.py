"""Exact sliding-window peaks for ground truth.

A window of W seconds ending at t holds the events with time in (t - W, t]; with whole-second
times that is "events less than W seconds apart". For each key the functions give the largest
count any such window holds (`peak`) and the time of the first event at which the count reaches
a threshold (`crossing`). Both work by a sweep: every event adds its weight at t and takes it
back at t + W (take-backs sort before additions at the same second), and a running sum per key.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

_T = "_t"
_D = "_d"
_N = "_n"


def peaks(
    frame: pl.DataFrame,
    keys: Sequence[str],
    window: int,
    *,
    threshold: int,
    weight: str | None = None,
    time: str = "t",
) -> pl.DataFrame:
    """Per key: `peak` (most events, summed by `weight`, in one window) and `crossing` (time
    of the event that first brings a window to `threshold`, null if none)."""
    w = pl.col(weight).cast(pl.Int64) if weight else pl.lit(1, dtype=pl.Int64)
    starts = frame.select(*keys, pl.col(time).cast(pl.Int64).alias(_T), w.alias(_D))
    return _sweep(starts, keys, window, threshold)


def distinct_peaks(
    frame: pl.DataFrame,
    keys: Sequence[str],
    value: str,
    window: int,
    *,
    threshold: int,
    time: str = "t",
) -> pl.DataFrame:
    """Per key: the most distinct values of `value` seen in one window (`peak`) and the first
    time that number reaches `threshold` (`crossing`)."""
    group = [*keys, value]
    # Occurrences of one value closer than W merge into one presence interval, so a value
    # counts once however often it repeats inside a window.
    ordered = frame.select(*group, pl.col(time).cast(pl.Int64).alias(_T)).sort([*group, _T])
    new_group = pl.any_horizontal([pl.col(c) != pl.col(c).shift(1) for c in group])
    too_far = (pl.col(_T) - pl.col(_T).shift(1)) >= window
    # Rows are sorted by group, so a run id needs no per-group window function: a run starts
    # at a new group or after a gap of at least W.
    runs = (
        ordered.with_columns((new_group | too_far).fill_null(True).cum_sum().alias("_run"))
        .group_by("_run")
        .agg(
            *(pl.col(c).first() for c in keys),
            pl.col(_T).min().alias("_start"),
            pl.col(_T).max().alias("_last"),
        )
    )
    plus = runs.select(*keys, pl.col("_start").alias(_T), pl.lit(1, dtype=pl.Int64).alias(_D))
    minus = runs.select(
        *keys, (pl.col("_last") + window).alias(_T), pl.lit(-1, dtype=pl.Int64).alias(_D)
    )
    return _sweep_steps(pl.concat([plus, minus]), keys, threshold)


def _sweep(starts: pl.DataFrame, keys: Sequence[str], window: int, threshold: int) -> pl.DataFrame:
    ends = starts.select(*keys, (pl.col(_T) + window).alias(_T), (-pl.col(_D)).alias(_D))
    return _sweep_steps(pl.concat([starts, ends]), keys, threshold)


def _sweep_steps(steps: pl.DataFrame, keys: Sequence[str], threshold: int) -> pl.DataFrame:
    # Every key's steps sum to zero, so a running sum over the key-sorted frame equals the
    # running sum within each key: no per-key window function needed.
    running = steps.sort([*keys, _T, _D]).with_columns(pl.col(_D).cum_sum().alias(_N))
    return (
        running.group_by(keys)
        .agg(
            pl.col(_N).max().alias("peak"),
            pl.col(_T).filter(pl.col(_N) >= threshold).min().alias("crossing"),
        )
        .sort(keys)
    )
