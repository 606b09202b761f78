"""Exact sliding-window measures over rows sorted by (key, time), in numpy.

Every function here works on one block of rows sorted by key segment and then by time,
and computes, for each row at time t, a measure of the rows of its key in the window
[t - span, t] (both ends inclusive). Nothing loops per row in Python.

The trick that keeps it flat: each key segment's times are shifted so that segments lie
end to end on one axis, more than `span` apart (`offset_times`). A window of one key
then never reaches into another, and one `searchsorted` over the whole block finds every
row's window. Shifted times must fit in an int64; a block whose keys' time ranges add up
to more is cut into runs of whole segments (a loop per run, which in practice is one).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

NONE = np.iinfo(np.int64).min // 4  # "no such time": far below any shifted time
_ROOM = 2**61  # the largest shifted time a run may reach


def segment_starts(new_segment: Bools) -> I64:
    """Row indices where a key segment begins (row 0 always does)."""
    starts = np.flatnonzero(new_segment)
    if starts.size == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    return starts.astype(np.int64)


def offset_times(starts: I64, ts: I64, span: int) -> Iterator[tuple[int, int, I64]]:
    """Runs (first row, end row, shifted times) covering the block, segments kept whole."""
    n = ts.size
    ends = np.append(starts[1:], n)
    first, last = ts[starts], ts[ends - 1]
    extent = (last - first) + (span + 2)  # what one segment occupies on the shifted axis
    if float(extent.astype(np.float64).sum()) < _ROOM:
        yield 0, n, _shift(ts, starts, ends, first, extent)
        return
    # Rare (very long spans times very many keys): place as many whole segments per run
    # as fit. The loop is per run of segments, not per row.
    lo = 0
    while lo < starts.size:
        used, hi = 0.0, lo
        while hi < starts.size and (hi == lo or used + float(extent[hi]) < _ROOM):
            used += float(extent[hi])
            hi += 1
        r0, r1 = int(starts[lo]), int(ends[hi - 1])
        sub = starts[lo:hi] - r0
        yield r0, r1, _shift(ts[r0:r1], sub, ends[lo:hi] - r0, first[lo:hi], extent[lo:hi])
        lo = hi


def _shift(ts: I64, starts: I64, ends: I64, first: I64, extent: I64) -> I64:
    base = np.cumsum(extent) - extent  # where each segment begins on the shifted axis
    shifted: I64 = ts + np.repeat(base - first, ends - starts)
    return shifted


def window_bounds(adj: I64, span: int) -> tuple[I64, I64]:
    """For each row, the index range [start, end) of the rows in its window."""
    start = np.searchsorted(adj, adj - span, side="left").astype(np.int64)
    end = np.searchsorted(adj, adj, side="right").astype(np.int64)
    return start, end


def window_sum(weight: I64, start: I64, end: I64) -> I64:
    total: I64 = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(weight)])
    sums: I64 = total[end] - total[start]
    return sums


def distinct_in_window(adj: I64, seg: I64, code: I64, span: int) -> tuple[I64, I64]:
    """Distinct codes in each row's window, and each row's previous same-code time.

    A code is present in the window [t - span, t] exactly when t lies in the union of
    [s, s + span] over its occurrences s. Occurrences closer than `span` merge into one
    interval, so the count at t is (#interval starts <= t) - (#interval ends < t),
    two `searchsorted`s over all keys at once.
    """
    n = adj.size
    order = np.lexsort((adj, code, seg))
    a, s, c = adj[order], seg[order], code[order]
    same = np.zeros(n, dtype=np.bool_)
    same[1:] = (s[1:] == s[:-1]) & (c[1:] == c[:-1])
    prev = np.full(n, NONE, dtype=np.int64)
    prev[1:] = np.where(same[1:], a[:-1], NONE)
    opens = ~same | (a - np.where(same, prev, a) > span)
    closes = np.append(opens[1:], True)
    interval_starts = np.sort(a[opens])
    interval_ends = np.sort(a[closes] + span)
    count = np.searchsorted(interval_starts, adj, side="right") - np.searchsorted(
        interval_ends, adj, side="left"
    )
    previous = np.empty(n, dtype=np.int64)
    previous[order] = prev
    return count.astype(np.int64), previous


def ordered_in_window(adj: I64, position: I64, strict: list[bool], span: int) -> I64:
    """How long a prefix of the listed rules occurs in order within each row's window.

    reach_k(r) is the latest start of an in-order chain of positions 0..k ending at row r
    (a running maximum, looked up with `searchsorted`). At time t the prefix 0..k is
    complete when some row r <= t of position k has reach_k(r) >= t - span. `strict[k]`
    asks for position k to come strictly after position k-1 (same rule listed twice in a
    row: one event must not stand for both).
    """
    steps = len(strict)
    reach = np.full(adj.size, NONE, dtype=np.int64)
    rows = [np.flatnonzero(position == k) for k in range(steps)]
    reach[rows[0]] = adj[rows[0]]
    for k in range(1, steps):
        prev, cur = rows[k - 1], rows[k]
        if prev.size == 0 or cur.size == 0:
            break
        best = np.maximum.accumulate(reach[prev])
        j = np.searchsorted(adj[prev], adj[cur], side="left" if strict[k] else "right") - 1
        reach[cur] = np.where(j >= 0, best[np.clip(j, 0, None)], NONE)
    measure = np.zeros(adj.size, dtype=np.int64)
    for k in range(steps):
        if rows[k].size == 0:
            break
        best = np.maximum.accumulate(reach[rows[k]])
        j = np.searchsorted(adj[rows[k]], adj, side="right") - 1
        done = (j >= 0) & (best[np.clip(j, 0, None)] >= adj - span)
        if not done.any():
            break
        measure += done
    return measure
