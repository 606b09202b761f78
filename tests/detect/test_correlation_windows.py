"""The numpy window measures against brute force, and the exact fallback for long spans
against the fast path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vigil.detect.correlation import windows as W


def _block(seed: int, n: int = 300, keys: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random rows sorted by (segment, time): segment ids, times, value codes."""
    rng = np.random.default_rng(seed)
    seg = np.sort(rng.integers(0, keys, n))
    ts = rng.integers(0, 200, n)
    order = np.lexsort((ts, seg))
    return seg[order], ts[order], rng.integers(0, 6, n)[order]


def _shifted(seg: np.ndarray, ts: np.ndarray, span: int) -> np.ndarray:
    starts = W.segment_starts(np.concatenate([[True], seg[1:] != seg[:-1]]))
    ((lo, hi, adj),) = list(W.offset_times(starts, ts, span))
    assert (lo, hi) == (0, ts.size)
    return adj


@pytest.mark.parametrize("seed", range(5))
def test_window_sum_and_distinct_match_brute_force(seed: int) -> None:
    """Sliding sums and distinct counts equal a direct count over [t - span, t] per key."""
    seg, ts, code = _block(seed)
    span = 15
    adj = _shifted(seg, ts, span)
    start, end = W.window_bounds(adj, span)
    weight = np.arange(1, ts.size + 1, dtype=np.int64)
    sums = W.window_sum(weight, start, end)
    distinct, _ = W.distinct_in_window(adj, seg, code, span)
    for i in range(ts.size):
        inside = (seg == seg[i]) & (ts >= ts[i] - span) & (ts <= ts[i])
        assert sums[i] == weight[inside].sum()
        assert distinct[i] == len(set(code[inside].tolist()))


def test_ordered_prefix_follows_the_listed_order() -> None:
    """B at 1, A at 2, B at 3: the in-order prefix A,B is complete only from time 3."""
    adj = np.array([1, 2, 3], dtype=np.int64)
    position = np.array([1, 0, 1], dtype=np.int64)
    assert W.ordered_in_window(adj, position, [False, False], 10).tolist() == [0, 1, 2]


def test_ordered_prefix_respects_the_window() -> None:
    """A at 0 and B at 11 are in order but not within a span of 10: B's window has no A."""
    adj = np.array([0, 11], dtype=np.int64)
    position = np.array([0, 1], dtype=np.int64)
    assert W.ordered_in_window(adj, position, [False, False], 10).tolist() == [1, 0]


def test_a_rule_listed_twice_in_a_row_needs_two_moments() -> None:
    """For A,A one event cannot stand for both; two at the same time do not either.

    Each A event is a row at both positions, as the engine hands it over."""
    strict = [False, True]
    one = W.ordered_in_window(np.array([5, 5]), np.array([0, 1]), strict, 10)
    assert one.tolist() == [1, 1]
    same = W.ordered_in_window(np.array([5, 5, 5, 5]), np.array([0, 1, 0, 1]), strict, 10)
    assert same.tolist() == [1, 1, 1, 1]
    two = W.ordered_in_window(np.array([5, 5, 6, 6]), np.array([0, 1, 0, 1]), strict, 10)
    assert two.tolist() == [1, 1, 2, 2]


def test_long_spans_are_cut_into_runs_with_the_same_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When shifted times would overflow, runs of whole keys give identical windows."""
    seg, ts, _ = _block(11, keys=8)
    span = 20
    starts = W.segment_starts(np.concatenate([[True], seg[1:] != seg[:-1]]))
    ((_, _, whole),) = list(W.offset_times(starts, ts, span))
    expected = W.window_bounds(whole, span)
    monkeypatch.setattr(W, "_ROOM", 600)
    runs = list(W.offset_times(starts, ts, span))
    assert len(runs) > 2
    assert runs[0][0] == 0
    assert runs[-1][1] == ts.size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))
    for lo, hi, adj in runs:
        start, end = W.window_bounds(adj, span)
        assert (start + lo).tolist() == expected[0][lo:hi].tolist()
        assert (end + lo).tolist() == expected[1][lo:hi].tolist()
