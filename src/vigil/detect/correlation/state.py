"""One correlation rule's live state: the rows still inside a window, and its episodes.

`RuleState.ingest` merges a batch's rows into the carried rows of the same keys, sorts
them by (key, time), measures every row's window (see `windows`), splits each key's rows
into episodes and decides which episodes fire. `advance` moves event time forward:
episodes that can no longer change are settled and their rows dropped. Per-row flags
(`done`, `peak`, `peak_at`) are spread over every row of an episode, so whichever of
its rows survive expiry still carry what the episode has already decided.

The rows are numpy columns (`Carried`); their text (group-by values, evidence) stays in
the engine's `TextStore`, read only to build alerts. `carry` shows them as one frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from vigil.alerts.model import Alert
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.carried import I64, Bools, Carried
from vigil.detect.correlation.evidence import Window, alerts_for
from vigil.detect.correlation.frames import from_frame, text_names, to_frame
from vigil.detect.correlation.intake import RuleColumns
from vigil.detect.correlation.slots import may_fire, sharing_slots
from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.detect.correlation.texts import TextStore
from vigil.detect.correlation.windows import (
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
    texts: TextStore
    columns: RuleColumns
    held: Carried = field(init=False)
    # Rows older than this are gone: a window reaching before it is incomplete.
    cutoff: int = field(init=False, default=NONE)
    # Deferred rules: the alert each open episode would raise for its current peak,
    # by (key values..., peak window end, peak).
    pending: dict[tuple[object, ...], Alert] = field(init=False, default_factory=dict)
    counters: RuleCounters = field(init=False, default_factory=RuleCounters)
    span: int = field(init=False)  # the timespan in microseconds
    keys: list[str] = field(init=False)  # the key columns of `carry`
    # Blocks still to measure whole before the cold-key prefilter looks again.
    _unsplit: int = field(init=False, default=0)
    _seed: int = field(init=False, default=0)  # the store's seed the key hashes are of

    def __post_init__(self) -> None:
        self.held = Carried.empty(len(self.spec.group_by))
        self.span = self.spec.timespan // _US
        self.keys = R.key_columns(self.spec)
        self._seed = self.texts.seed

    @property
    def size(self) -> int:
        return self.held.size

    @property
    def live_keys(self) -> int:
        return self.held.distinct_keys()

    @property
    def oldest(self) -> int | None:
        """The time of the oldest carried row (microseconds), without building `carry`."""
        return int(self.held.ts.min()) if self.held.size else None

    @property
    def carry(self) -> pl.DataFrame:
        """The carried rows as a frame laid out as `rows.schema`, their text included."""
        self._sync()
        return to_frame(self.spec, self.columns, self.held, self.texts)

    @carry.setter
    def carry(self, frame: pl.DataFrame) -> None:
        """Replace the carried rows by `frame` (laid out as `rows.schema`): the live
        daemon puts markers of decided episodes back this way after a restart."""
        self.held = from_frame(self.spec, self.columns, frame, self.texts)
        self._seed = self.texts.seed

    def renumber(self, kept: I64) -> None:
        """The store kept only the rows `kept` (old numbers, ascending): follow them."""
        self.held.ids = np.searchsorted(kept, self.held.ids).astype(np.int64)

    def ingest(self, rows: Carried, before: int | None, after: int) -> list[Alert]:
        """Merge new rows (event time was `before`, is now `after`); alerts that fire."""
        self._sync()
        if before is not None and rows.size:
            fresh = rows.ts >= before - self.lateness
            late = rows.size - int(np.count_nonzero(fresh))
            if late:
                self.counters.late += late
                rows = rows.take(fresh)
        fired: list[Alert] = []
        if rows.size:
            held = self.held
            block, rest = rows, held
            if held.size:
                # Carried rows whose key may be among the new rows' (see `slots`).
                touched = sharing_slots(held, rows)
                if touched.all():
                    block, rest = Carried.concat([held, rows]), Carried.empty(len(held.keys))
                elif touched.any():
                    block, rest = Carried.concat([held.take(touched), rows]), held.take(~touched)
            carried = block.size - rows.size
            block, cold = self._without_cold_keys(block)
            if block.size:
                block, fired = self._evaluate(block, carried)
            self.held = Carried.concat([rest, cold, block])
        fired.extend(self.advance(after))
        self.counters.alerts += len(fired)
        return fired

    def advance(self, now: int) -> list[Alert]:
        """Event time reached `now`: settle episodes that cannot grow, drop their rows."""
        cutoff = max(self.cutoff, now - self.lateness - self.span)
        if cutoff == self.cutoff:
            return []
        self.cutoff = cutoff
        held = self.held
        if not held.size:
            return []
        expiring = held.ts < cutoff
        if not expiring.any():
            return []
        kept = held.take(~expiring)
        alerts = self._settle(held.take(expiring), kept) if self.spec.deferred else []
        self.held = kept
        return alerts

    def _sync(self) -> None:
        """Hash the carried keys and values again if the store drew a new seed."""
        if self._seed == self.texts.seed:
            return
        held = self.held
        if held.size:
            held.keys = tuple(self.texts.hashes(c)[held.ids] for c in self.columns.groups)
            if self.columns.value is not None:
                held.v = self.texts.hashes(self.columns.value)[held.ids].view(np.int64)
        self._seed = self.texts.seed

    def _view(self) -> pl.DataFrame:
        return self.texts.view(text_names(self.spec, self.columns, value=False))

    def _key_texts(self, ids: I64) -> list[tuple[Any, ...]]:
        """The group-by values of the events stored at `ids`, as tuples of text."""
        names = R.group_columns(self.spec)
        if not names:
            return [()] * ids.size
        at = pl.Series(ids)
        return self._view().select(pl.col(n).gather(at) for n in names).rows()

    def _settle(self, gone: Carried, kept: Carried) -> list[Alert]:
        # Only episodes whose peak satisfies the condition have an alert waiting. One is
        # over when none of its rows is kept: rows of one episode share (key, peak_at,
        # peak), and two episodes of a key never do.
        ended = self._winning(gone)
        if ended:
            ongoing = self._winning(kept)
            alerts = [self.pending.pop(e) for e in ended if e not in ongoing]
        else:
            alerts, ongoing = [], {}
        if self.pending:
            ongoing = ongoing or self._winning(kept)
            self.pending = {k: v for k, v in self.pending.items() if k in ongoing}
        return alerts

    def _winning(self, rows: Carried) -> dict[tuple[Any, ...], None]:
        """The (key values..., peak_at, peak) of the episodes whose peak holds."""
        wins = rows.take(self.spec.holds(rows.peak))
        if not wins.size:
            return {}
        # One row per episode before reading texts.
        table = np.stack([*(k.view(np.int64) for k in wins.keys), wins.peak_at, wins.peak])
        _, first = np.unique(table, axis=1, return_index=True)
        first.sort()
        texts = self._key_texts(wins.ids[first])
        ats, peaks = wins.peak_at[first].tolist(), wins.peak[first].tolist()
        return dict.fromkeys((*t, a, p) for t, a, p in zip(texts, ats, peaks, strict=True))

    def _without_cold_keys(self, block: Carried) -> tuple[Carried, Carried]:
        """(rows of keys that may fire, rows of keys that cannot), the tumbling-count
        prefilter: no window of a key holds more weight, values or listed rules than all
        of the key's rows together, so a key whose rows fall short of the lower bound
        has nothing to decide now, and its rows are carried as they are. Keys with a
        fired episode are always measured (new rows may join it); rules with an upper
        bound follow every peak, so they are not prefiltered."""
        need = self.spec.min_required
        nothing = Carried.empty(len(block.keys))
        if self.spec.deferred or need < 2:
            return block, nothing
        if self._unsplit > 0:
            # The last blocks were mostly hot: the next few are measured whole without
            # looking (the result is the same either way; only the cost differs).
            self._unsplit -= 1
            return block, nothing
        keep = may_fire(block, self.spec.kind, need)
        kept = int(np.count_nonzero(keep))
        if not kept:
            return nothing, block
        if kept > _MOSTLY_HOT * block.size:
            # Splitting would cost more than measuring the few cold rows.
            self._unsplit = _SKIP_AFTER_HOT
            return block, nothing
        return block.take(keep), block.take(~keep)

    def _evaluate(self, block: Carried, carried: int) -> tuple[Carried, list[Alert]]:
        """Measure and decide a block: its first `carried` rows are state, the rest new."""
        spec, span = self.spec, self.span
        order, new_key = block.key_order()
        ts = block.ts[order]
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
        weight = window_sum(block.w[order], wstart, wend)
        events = wend - wstart  # rows in each window: a ceiling on any distinct count
        measure, previous = self._measure(block.v[order], seg, adj, events, starts.size)
        if measure is None:
            measure = weight

        # Episodes: a key's rows with no gap longer than the timespan between them.
        opens = new_key.copy()
        opens[1:] |= (ts[1:] - ts[:-1]) > span
        ep_starts = np.flatnonzero(opens)
        eid = np.cumsum(opens) - 1
        # A window is complete when none of its rows can have been dropped already.
        complete = ts >= self.cutoff + span if self.cutoff != NONE else np.ones(n, np.bool_)

        ids = block.ids[order]

        def window() -> Window:
            # The store stands in for the block: `order` says where each event's text is.
            view = self._view()
            return Window(view, ids, ts, adj, wstart, wend, weight, previous, span)

        alerts: list[Alert] = []
        done = np.logical_or.reduceat(block.done[order], ep_starts)
        peak, peak_at = block.peak, block.peak_at
        if spec.deferred:
            fresh = np.concatenate([[0], np.cumsum(order >= carried)])
            touched = fresh[wend] > fresh[wstart]  # the window holds an event of this batch
            best, best_at = self._peaks(
                window, ids, ts, measure, block.peak[order], block.peak_at[order], complete,
                touched, eid, ep_starts,
            )  # fmt: skip
            done |= spec.beyond(best)
            peak, peak_at = _unsort(best[eid], order), _unsort(best_at[eid], order)
        else:
            ok = spec.holds(measure) & complete & ~done[eid]
            hits = np.flatnonzero(ok)
            first = hits[np.unique(eid[hits], return_index=True)[1]]
            done[eid[first]] = True
            if first.size:
                alerts = alerts_for(spec, window(), first, self.max_evidence)
        decided = done[eid]
        keep = _unsort(_skeleton(decided, opens, ts // span), order)
        out = Carried(
            keys=block.keys,
            ts=block.ts,
            w=block.w,
            v=block.v,
            ids=block.ids,
            done=_unsort(decided, order),
            peak=peak,
            peak_at=peak_at,
        )
        return (out if keep.all() else out.take(keep)), alerts

    def _measure(
        self, code: I64, seg: I64, adj: I64, events: I64, segments: int
    ) -> tuple[I64 | None, I64 | None]:
        """The measure of each sorted row's window (None: the weight) and, for distinct
        measures, the time of the previous row of the same key and value."""
        kind, span = self.spec.kind, self.span
        if kind is CorrelationKind.EVENT_COUNT:
            return None, None
        if kind is CorrelationKind.TEMPORAL_ORDERED:
            refs = [r.reference for r in self.spec.rules]
            strict = [k > 0 and refs[k] == refs[k - 1] for k in range(len(refs))]
            measure = ordered_in_window(adj, code, strict, span)
            return measure, distinct_in_window(adj, seg, code, span)[1]
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
        window: Any,
        ids: I64,
        ts: I64,
        measure: I64,
        peak: I64,
        peak_at: I64,
        complete: Bools,
        touched: Bools,
        eid: I64,
        ep_starts: I64,
    ) -> tuple[I64, I64]:
        """Deferred rules: each episode's peak and the end of its first window to reach
        it; the alert of a peak that satisfies the condition is kept ready."""
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
            groups = self._key_texts(ids[rows])
            ready = alerts_for(self.spec, window(), rows, self.max_evidence)
            for g, i, alert in zip(groups, rows, ready, strict=True):
                self.pending[(*g, int(ts[i]), int(best[eid[i]]))] = alert
        return best, best_at


def _skeleton(decided: Bools, opens: Bools, bucket: I64) -> Bools:
    """Rows worth keeping: all of an undecided episode, a skeleton of a decided one.

    A decided episode (fired, or its peak past the upper bound) needs its rows only to
    tell whether a later event still belongs to it. The first and last row of each
    timespan-wide bucket keep every gap at most a timespan, so that answer is unchanged,
    and a flood that has fired costs a few rows instead of all of its events.
    """
    edge = opens.copy()
    edge[1:] |= bucket[1:] != bucket[:-1]
    last = np.append(edge[1:], True)
    keep: Bools = ~decided | edge | last
    return keep


def _unsort(values: np.ndarray, order: I64) -> np.ndarray:
    out = np.empty_like(values)
    out[order] = values
    return out
