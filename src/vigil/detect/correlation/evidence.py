"""From a firing window to an `Alert`: entity, count, first/last time and evidence.

The evidence of an alert is the first `max_evidence` events of its window in time
order; for value_count and the temporal types only the first event of each distinct
value (or rule) in the window, so the evidence shows what made the count.

All alerts of one call are built together: their evidence rows are chosen with numpy
over the windows at once, fetched from the block in one gather and written as JSON
text by polars (`alerts.columns`), so an alert costs its own Python object and nothing
per evidence row beyond its share of one string.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from vigil.alerts.columns import evidence_texts
from vigil.alerts.model import Alert
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.spec import CorrelationSpec
from vigil.detect.correlation.windows import I64

# Window rows looked at per step when picking the first row of each value: bounds the
# temporary arrays when many alerts have long windows.
_STEP_ROWS = 1 << 22


@dataclass(frozen=True)
class Window:
    """A measured block: rows sorted by (key, time) and each row's window."""

    block: pl.DataFrame  # in arrival order; everything below is in (key, time) order
    order: I64  # block row of each sorted position
    ts: I64
    adj: I64  # times shifted per key segment (see windows.offset_times)
    start: I64  # first row of each row's window
    end: I64  # one past the last row of each row's window
    weight: I64  # sum of event.count over each row's window
    # For distinct measures: shifted time of the previous row of the same key and value.
    previous: I64 | None
    span: int


def alerts_for(spec: CorrelationSpec, win: Window, rows: I64, max_evidence: int) -> list[Alert]:
    """One alert per row index, for the window that ends at that row."""
    if rows.size == 0:
        return []
    owner, picked = evidence_rows(win, rows, max_evidence)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=rows.size))]).tolist()
    # The evidence rows, then each alert's own row (for its group-by values): one gather.
    both = win.block.gather(pl.Series(np.concatenate([win.order[picked], win.order[rows]])))
    evidence = evidence_texts(
        both.slice(0, picked.size),
        (R.TS, R.PATH, R.LINE, R.MSG),
        bounds,
        whole_seconds=not np.any(win.ts[picked] % 1_000_000),
    )
    names = R.group_columns(spec)
    at = both.slice(picked.size)
    groups = (
        zip(*(at.get_column(n).to_list() for n in names), strict=True)
        if names
        else [()] * rows.size
    )
    first = win.ts[win.start[rows]].tolist()
    last = win.ts[rows].tolist()
    counts = win.weight[rows].tolist()
    return [
        Alert(
            rule_id=spec.rule_id,
            rule_name=spec.name,
            title=spec.title,
            level=spec.level,
            entity=dict(zip(spec.group_by, values, strict=True)),
            count=int(counts[k]),
            first_seen=R.to_datetime(first[k]),
            last_seen=R.to_datetime(last[k]),
            tags=spec.tags,
            evidence=evidence[k],
            author=spec.author,
        )
        for k, values in enumerate(groups)
    ]


def evidence_rows(win: Window, rows: I64, max_evidence: int) -> tuple[I64, I64]:
    """(alert index, sorted position) of each evidence row, grouped by alert in order.

    Without `previous` an alert's evidence is the first `max_evidence` rows of its
    window; with it, the rows whose previous same-value row lies before the window."""
    if win.previous is None:
        starts = win.start[rows]
        count = np.minimum(win.end[rows] - starts, max_evidence)
        owner, offset = _ranges(count)
        return owner, starts[owner] + offset
    owners: list[I64] = []
    picked: list[I64] = []
    for lo, hi in _steps(win.end[rows] - win.start[rows]):
        part = rows[lo:hi]
        starts = win.start[part]
        owner, offset = _ranges(win.end[part] - starts)
        position = starts[owner] + offset
        # First of its value in the window: its previous same-value row is before it.
        first = win.previous[position] < (win.adj[part] - win.span)[owner]
        owner, position = owner[first], position[first]
        kept = np.bincount(owner, minlength=part.size)
        rank = np.arange(owner.size) - np.repeat(np.cumsum(kept) - kept, kept)
        within = rank < max_evidence
        owners.append(owner[within] + lo)
        picked.append(position[within])
    return np.concatenate(owners), np.concatenate(picked)


def _ranges(count: I64) -> tuple[I64, I64]:
    """For lengths n_k: (k repeated n_k times, 0..n_k-1 for each k)."""
    owner = np.repeat(np.arange(count.size, dtype=np.int64), count)
    offset = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    return owner, offset


def _steps(sizes: I64) -> Iterator[tuple[int, int]]:
    """Consecutive index ranges whose sizes add up to about `_STEP_ROWS` (at least one)."""
    total = np.cumsum(sizes)
    lo = 0
    while lo < sizes.size:
        base = int(total[lo - 1]) if lo else 0
        hi = int(np.searchsorted(total, base + _STEP_ROWS, side="right"))
        hi = max(hi, lo + 1)
        yield lo, hi
        lo = hi
