"""Sliding-window peaks against a brute-force count."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from bench.loggen.windows import distinct_peaks, peaks

WINDOW = 60


def _random_events(seed: int, n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "k": rng.integers(0, 5, n),
            "v": rng.integers(0, 8, n),
            "w": rng.integers(1, 4, n),
            "t": np.sort(rng.integers(0, 900, n)),
        }
    )


def _brute_peak(times: list[int], weights: list[int], threshold: int) -> tuple[int, int | None]:
    """Most weight in any window (t - W, t], and the first t where it reaches threshold."""
    best, crossing = 0, None
    for t in sorted(set(times)):
        total = sum(w for s, w in zip(times, weights, strict=True) if t - WINDOW < s <= t)
        best = max(best, total)
        if crossing is None and total >= threshold:
            crossing = t
    return best, crossing


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_peaks_match_brute_force(seed: int) -> None:
    """Weighted peak and first crossing per key equal a brute-force scan of every window."""
    frame = _random_events(seed)
    got = peaks(frame, ["k"], WINDOW, threshold=12, weight="w")
    by_key: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for row in frame.iter_rows(named=True):
        by_key[row["k"]][0].append(row["t"])
        by_key[row["k"]][1].append(row["w"])
    want = {k: _brute_peak(ts, ws, 12) for k, (ts, ws) in by_key.items()}
    assert {r["k"]: (r["peak"], r["crossing"]) for r in got.to_dicts()} == want


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_distinct_peaks_match_brute_force(seed: int) -> None:
    """The most distinct values in one window per key equals a brute-force scan."""
    frame = _random_events(seed)
    got = distinct_peaks(frame, ["k"], "v", WINDOW, threshold=5)
    want = {}
    for k in frame.get_column("k").unique().to_list():
        rows = frame.filter(pl.col("k") == k)
        best, crossing = 0, None
        for t in sorted(set(rows.get_column("t").to_list())):
            inside = rows.filter((pl.col("t") > t - WINDOW) & (pl.col("t") <= t))
            n = inside.get_column("v").n_unique()
            best = max(best, n)
            if crossing is None and n >= 5:
                crossing = t
        want[k] = (best, crossing)
    assert {r["k"]: (r["peak"], r["crossing"]) for r in got.to_dicts()} == want


def test_window_excludes_events_exactly_w_apart() -> None:
    """Five events spanning exactly W seconds never share a window; 5 within W - 1 do."""
    apart = pl.DataFrame({"k": [1] * 5, "t": [0, 10, 20, 30, WINDOW]})
    inside = pl.DataFrame({"k": [1] * 5, "t": [0, 10, 20, 30, WINDOW - 1]})
    assert peaks(apart, ["k"], WINDOW, threshold=5).row(0, named=True)["peak"] == 4
    assert peaks(inside, ["k"], WINDOW, threshold=5).row(0, named=True)["crossing"] == WINDOW - 1
