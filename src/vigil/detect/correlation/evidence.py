"""From a firing window to an `Alert`: entity, count, first/last time and evidence.

The evidence of an alert is the first `max_evidence` events of its window in time
order; for value_count and the temporal types only the first event of each distinct
value (or rule) in the window, so the evidence shows what made the count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from vigil.alerts.model import Alert, Evidence
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.spec import CorrelationSpec
from vigil.detect.correlation.windows import I64

_AS_TIME = pl.col(R.TS).cast(pl.Datetime("us", "UTC"))


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
    picks = [_evidence_rows(win, int(i), max_evidence) for i in rows]
    flat = np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)
    ev = win.block.select(_AS_TIME, R.PATH, R.LINE, R.MSG)[win.order[flat]].rows()
    names = R.group_columns(spec)
    groups = win.block.select(names)[win.order[rows]].rows() if names else [()] * rows.size
    alerts: list[Alert] = []
    offset = 0
    for i, pick, values in zip(rows, picks, groups, strict=True):
        chosen = ev[offset : offset + pick.size]
        offset += pick.size
        alerts.append(
            Alert(
                rule_id=spec.rule_id,
                rule_name=spec.name,
                title=spec.title,
                level=spec.level,
                entity=dict(zip(spec.group_by, values, strict=True)),
                count=int(win.weight[i]),
                first_seen=R.to_datetime(int(win.ts[win.start[i]])),
                last_seen=R.to_datetime(int(win.ts[i])),
                tags=spec.tags,
                evidence=tuple(Evidence(t, path, line, msg) for t, path, line, msg in chosen),
            )
        )
    return alerts


def _evidence_rows(win: Window, i: int, max_evidence: int) -> I64:
    a, b = int(win.start[i]), int(win.end[i])
    if win.previous is None:
        return np.arange(a, min(b, a + max_evidence), dtype=np.int64)
    # First of its value in the window: its previous same-value row is before the window.
    first = np.flatnonzero(win.previous[a:b] < win.adj[i] - win.span)[:max_evidence]
    return (first + a).astype(np.int64)
