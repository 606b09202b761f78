"""One correlation rule's live state: the rows still inside a window, and its episodes.

`RuleState.ingest` merges a batch's rows into the carried rows of the same keys, sorts
them by (key, time), measures every row's window (see `windows`), splits each key's rows
into episodes and decides which episodes fire. `advance` moves event time forward:
episodes that can no longer change are settled and their rows dropped. Per-row flags
(`_done`, `_peak`, `_peak_at`) are spread over every row of an episode, so whichever of
its rows survive expiry still carry what the episode has already decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl

from vigil.alerts.model import Alert
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.evidence import Window, alerts_for
from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.detect.correlation.windows import (
    I64,
    NONE,
    distinct_in_window,
    offset_times,
    ordered_in_window,
    segment_starts,
    window_bounds,
    window_sum,
)

_MAX = np.iinfo(np.int64).max
# Share of a block's rows in keys that may fire above which it is measured whole.
_MOSTLY_HOT = 0.7
# Blocks measured whole without the prefilter after a mostly hot one.
_SKIP_AFTER_HOT = 4
_US = timedelta(microseconds=1)


@dataclass
class RuleCounters:
    late: int = 0  # rows older than the allowed lateness: ignored
    unplaced: int = 0  # rows without a time, group-by value or counted value: ignored
    alerts: int = 0


@dataclass
class RuleState:
    spec: CorrelationSpec
    lateness: int  # microseconds
    max_evidence: int
    carry: pl.DataFrame = field(init=False)
    # Rows older than this are gone: a window reaching before it is incomplete.
    cutoff: int = field(init=False, default=NONE)
    # Deferred rules: the alert each open episode would raise for its current peak,
    # by (key values..., peak window end, peak).
    pending: dict[tuple[object, ...], Alert] = field(init=False, default_factory=dict)
    counters: RuleCounters = field(init=False, default_factory=RuleCounters)
    span: int = field(init=False)  # the timespan in microseconds
    keys: list[str] = field(init=False)
    # Blocks still to measure whole before the cold-key prefilter looks again.
    _unsplit: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.carry = R.empty(self.spec)
        self.span = self.spec.timespan // _US
        self.keys = R.key_columns(self.spec)

    @property
    def live_keys(self) -> int:
        return self.carry.select(self.keys).n_unique() if self.carry.height else 0

    def ingest(self, rows: pl.DataFrame, before: int | None, after: int) -> list[Alert]:
        """Merge new rows (event time was `before`, is now `after`); alerts that fire."""
        if before is not None and rows.height:
            fresh = rows.filter(pl.col(R.TS) >= before - self.lateness)
            self.counters.late += rows.height - fresh.height
            rows = fresh
        fired: list[Alert] = []
        if rows.height:
            if self.carry.height:
                touched = rows.select(R.H).unique()
                block = self.carry.join(touched, on=R.H, how="semi")
                rest = self.carry.join(touched, on=R.H, how="anti")
                block = pl.concat([block, rows], how="vertical")
            else:
                block, rest = rows, self.carry
            carried = block.height - rows.height
            block, cold = self._without_cold_keys(block)
            if block.height:
                block, fired = self._evaluate(block, carried)
            parts = [part for part in (rest, cold, block) if part.height] or [block]
            self.carry = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        fired.extend(self.advance(after))
        self.counters.alerts += len(fired)
        return fired

    def advance(self, now: int) -> list[Alert]:
        """Event time reached `now`: settle episodes that cannot grow, drop their rows."""
        cutoff = max(self.cutoff, now - self.lateness - self.span)
        if cutoff == self.cutoff:
            return []
        self.cutoff = cutoff
        expiring = pl.col(R.TS) < cutoff
        if not self.carry.height or not self.carry.select(expiring.any()).item():
            return []
        kept = self.carry.filter(~expiring)
        alerts = self._settle(self.carry.filter(expiring), kept) if self.spec.deferred else []
        self.carry = kept
        return alerts

    def _settle(self, gone: pl.DataFrame, kept: pl.DataFrame) -> list[Alert]:
        # Only episodes whose peak satisfies the condition have an alert waiting. One is
        # over when none of its rows is kept: rows of one episode share (key, _peak_at,
        # _peak), and two episodes of a key never do.
        ident = [*self.keys, R.PEAK_AT, R.PEAK]
        gone, kept = self._winning(gone).select(ident), self._winning(kept).select(ident)
        won = gone.unique().join(kept.unique(), on=ident, how="anti")
        alerts = [self.pending.pop(row) for row in won.iter_rows()]
        if self.pending:
            wanted = set(kept.unique().iter_rows())
            self.pending = {k: v for k, v in self.pending.items() if k in wanted}
        return alerts

    def _without_cold_keys(self, block: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(rows of keys that may fire, rows of keys that cannot), the tumbling-count
        prefilter: no window of a key holds more weight, values or listed rules than all
        of the key's rows together, so a key whose rows fall short of the lower bound
        has nothing to decide now, and its rows are carried as they are. Keys with a
        fired episode are always measured (new rows may join it); rules with an upper
        bound follow every peak, so they are not prefiltered."""
        need = self.spec.min_required
        if self.spec.deferred or need < 2:
            return block, block.clear()
        if self._unsplit > 0:
            # The last blocks were mostly hot: the next few are measured whole without
            # looking (the result is the same either way; only the cost differs).
            self._unsplit -= 1
            return block, block.clear()
        total = pl.col(R.W).sum() if self.spec.kind is CorrelationKind.EVENT_COUNT else None
        measure = total if total is not None else pl.col(R.V).n_unique()
        # Keys by hash: two keys sharing one only add up, so a cold key is truly cold.
        keys = (
            block.lazy()
            .group_by(R.H)
            .agg(
                (pl.col(R.DONE).any() | (measure >= need)).alias("_hot"),
                pl.len().alias("_rows"),
            )
            .filter(pl.col("_hot"))
            .collect()
        )
        if keys.get_column("_rows").sum() > _MOSTLY_HOT * block.height:
            # Splitting would cost more than measuring the few cold rows.
            self._unsplit = _SKIP_AFTER_HOT
            return block, block.clear()
        keep = pl.col(R.H).is_in(keys.get_column(R.H).implode())
        return block.filter(keep), block.filter(~keep)

    def _winning(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.Series(self.spec.holds(frame[R.PEAK].to_numpy())))

    def _evaluate(self, block: pl.DataFrame, carried: int) -> tuple[pl.DataFrame, list[Alert]]:
        """Measure and decide a block: its first `carried` rows are state, the rest new."""
        # Work on numpy columns in (key, time) order; the frame itself is never sorted
        # (moving its text columns would cost more than everything else here).
        spec, span = self.spec, self.span
        order, new_key = _order(block, R.group_columns(spec))

        def column(name: str) -> np.ndarray:
            return block[name].to_numpy()[order]

        ts = column(R.TS)
        n = ts.size
        starts = segment_starts(new_key)
        seg = np.cumsum(new_key) - 1
        adj = np.empty(n, dtype=np.int64)
        wstart = np.empty(n, dtype=np.int64)
        wend = np.empty(n, dtype=np.int64)
        for lo, hi, shifted in offset_times(starts, ts, span):
            adj[lo:hi] = shifted
            a, b = window_bounds(shifted, span)
            wstart[lo:hi], wend[lo:hi] = a + lo, b + lo
        weight = window_sum(column(R.W), wstart, wend)
        events = wend - wstart  # rows in each window: a ceiling on any distinct count
        measure, previous = self._measure(block, order, seg, adj, weight, events, starts.size)

        # Episodes: a key's rows with no gap longer than the timespan between them.
        opens = new_key.copy()
        opens[1:] |= (ts[1:] - ts[:-1]) > span
        ep_starts = np.flatnonzero(opens)
        eid = np.cumsum(opens) - 1
        # A window is complete when none of its rows can have been dropped already.
        complete = ts >= self.cutoff + span if self.cutoff != NONE else np.ones(n, np.bool_)

        win = Window(block, order, ts, adj, wstart, wend, weight, previous, span)
        alerts: list[Alert] = []
        done = np.logical_or.reduceat(column(R.DONE), ep_starts)
        if spec.deferred:
            peak, peak_at = column(R.PEAK), column(R.PEAK_AT)
            fresh = np.concatenate([[0], np.cumsum(order >= carried)])
            touched = fresh[wend] > fresh[wstart]  # the window holds an event of this batch
            updates = self._peaks(win, measure, peak, peak_at, complete, touched, eid, ep_starts)
            done |= spec.beyond(updates[R.PEAK][ep_starts])
        else:
            ok = spec.holds(measure) & complete & ~done[eid]
            hits = np.flatnonzero(ok)
            first = hits[np.unique(eid[hits], return_index=True)[1]]
            done[eid[first]] = True
            alerts = alerts_for(spec, win, first, self.max_evidence)
            updates = {}
        updates[R.DONE] = done[eid]
        keep = _unsort(_skeleton(updates[R.DONE], opens, ts // span), order)
        back = [pl.Series(k, _unsort(v, order)) for k, v in updates.items()]
        block = block.with_columns(back)
        return (block if keep.all() else block.filter(pl.Series(keep))), alerts

    def _measure(
        self,
        block: pl.DataFrame,
        order: I64,
        seg: I64,
        adj: I64,
        weight: I64,
        events: I64,
        segments: int,
    ) -> tuple[I64, I64 | None]:
        kind, span = self.spec.kind, self.span
        if kind is CorrelationKind.EVENT_COUNT:
            return weight, None
        if kind is CorrelationKind.TEMPORAL_ORDERED:
            refs = [r.reference for r in self.spec.rules]
            strict = [k > 0 and refs[k] == refs[k - 1] for k in range(len(refs))]
            code = block[R.V].to_numpy()[order]
            measure = ordered_in_window(adj, code, strict, span)
            return measure, distinct_in_window(adj, seg, code, span)[1]
        values = block[R.V]
        code = (_codes(values) if kind is CorrelationKind.VALUE_COUNT else values.to_numpy())[order]
        need = self.spec.min_required
        if need > 1:
            # Two stages: no window holds more distinct values than rows, so only keys
            # with a window of at least `need` rows get the exact sliding distinct count.
            hot = np.zeros(segments, dtype=np.bool_)
            hot[seg[events >= need]] = True
            keep = hot[seg]
            measure = np.zeros(seg.size, dtype=np.int64)
            previous = np.full(seg.size, NONE, dtype=np.int64)
            if keep.any():
                m, p = distinct_in_window(adj[keep], seg[keep], code[keep], span)
                measure[keep], previous[keep] = m, p
            return measure, previous
        return distinct_in_window(adj, seg, code, span)

    def _peaks(
        self,
        win: Window,
        measure: I64,
        peak: I64,
        peak_at: I64,
        complete: np.ndarray,
        touched: np.ndarray,
        eid: I64,
        ep_starts: I64,
    ) -> dict[str, I64]:
        """Deferred rules: carry each episode's peak window; keep its alert ready."""
        ts = win.ts
        val = np.where(complete, measure, -1)
        better = (val > peak) | ((val == peak) & (ts < peak_at))
        val, at = np.where(better, val, peak), np.where(better, ts, peak_at)
        best = np.maximum.reduceat(val, ep_starts)
        best_at = np.minimum.reduceat(np.where(val == best[eid], at, _MAX), ep_starts)
        # Draft the alert of an episode whose peak satisfies the condition when the peak is
        # new (some row still carries another) or an event of this batch joined its window.
        # An unchanged, untouched peak already has its draft, under the same identity:
        # (key, peak window end, peak), as a late event can raise that very window. Only a
        # complete window can be drafted; a peak whose window lost rows was drafted before.
        stale = np.logical_or.reduceat((peak != best[eid]) | (peak_at != best_at[eid]), ep_starts)
        wanted = self.spec.holds(best)[eid] & (ts == best_at[eid]) & complete
        rows = np.flatnonzero(wanted & (stale[eid] | touched))
        rows = rows[np.unique(eid[rows], return_index=True)[1]]
        if rows.size:
            groups = win.block.select(self.keys)[win.order[rows]].rows()
            ready = alerts_for(self.spec, win, rows, self.max_evidence)
            for g, i, alert in zip(groups, rows, ready, strict=True):
                self.pending[(*g, int(ts[i]), int(best[eid[i]]))] = alert
        return {R.PEAK: best[eid], R.PEAK_AT: best_at[eid]}


def _order(block: pl.DataFrame, groups: list[str]) -> tuple[I64, np.ndarray]:
    """Row indices in (key, time) order, and where a new key starts in that order.

    Sorting on the 64-bit key hash is fast and exact unless two keys share a hash; then
    (fewer hash runs than distinct keys) it sorts on the values.
    """
    n = block.height
    ts = block[R.TS].to_numpy()
    h = block[R.H].to_numpy()
    order = np.lexsort((ts, h)).astype(np.int64)
    new_key = np.ones(n, dtype=np.bool_)
    new_key[1:] = h[order[1:]] != h[order[:-1]]
    if groups and n:
        key = pl.struct(groups) if len(groups) > 1 else pl.col(groups[0])
        if block.select(key.n_unique()).item() != int(new_key.sum()):
            order = block.select(pl.arg_sort_by([*groups, R.TS])).to_series().to_numpy()
            moved = block.select(groups)[order]
            change = moved.select(
                pl.any_horizontal(pl.col(g).ne_missing(pl.col(g).shift(1)) for g in groups)
            ).to_series()
            new_key[1:] = change.to_numpy()[1:]
            order = order.astype(np.int64)
    return order, new_key


def _skeleton(decided: np.ndarray, opens: np.ndarray, bucket: I64) -> np.ndarray:
    """Rows worth keeping: all of an undecided episode, a skeleton of a decided one.

    A decided episode (fired, or its peak past the upper bound) needs its rows only to
    tell whether a later event still belongs to it. The first and last row of each
    timespan-wide bucket keep every gap at most a timespan, so that answer is unchanged,
    and a flood that has fired costs a few rows instead of all of its events.
    """
    edge = opens.copy()
    edge[1:] |= bucket[1:] != bucket[:-1]
    last = np.append(edge[1:], True)
    keep: np.ndarray = ~decided | edge | last
    return keep


def _unsort(values: np.ndarray, order: I64) -> np.ndarray:
    out = np.empty_like(values)
    out[order] = values
    return out


def _codes(values: pl.Series, hashed: pl.Series | None = None) -> I64:
    """Integer codes for counted values, equal exactly when the values are equal."""
    hashed = values.hash(seed=0) if hashed is None else hashed
    if hashed.n_unique() == values.n_unique():
        return hashed.to_numpy().view(np.int64)
    # Two values share a hash: rank them instead (a sort, but exact).
    return values.rank("dense").cast(pl.Int64).to_numpy()
