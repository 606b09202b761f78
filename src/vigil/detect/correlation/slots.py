"""Keys counted by a slot of their hash: cheap questions about keys, without sorting.

Keys sharing a slot only add up, so answers are on the safe side: a key a slot says
cannot fire truly cannot, and a carried key a slot says a batch may touch is measured
again, which changes nothing (its windows are those it had; none became complete since).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from vigil.detect.correlation.carried import I64, Bools, Carried
from vigil.detect.correlation.spec import CorrelationKind

SLOTS = 1 << 16
_MASK = np.uint64(SLOTS - 1)


def slots(rows: Carried) -> I64:
    """Each row's hash slot: equal keys, equal slots."""
    slot: I64 = (rows.bucket() & _MASK).astype(np.intp)
    return slot


def sharing_slots(held: Carried, rows: Carried) -> Bools:
    """The carried rows whose key may be among the new rows' keys."""
    marked = np.zeros(SLOTS, dtype=np.bool_)
    marked[slots(rows)] = True
    touched: Bools = marked[slots(held)]
    return touched


def may_fire(block: Carried, kind: CorrelationKind, need: int) -> Bools:
    """The rows of keys whose rows, all together, reach `need` (weight for event_count,
    distinct values or listed rules otherwise), or hold a fired episode: no window of a
    key holds more than all of its rows."""
    slot = slots(block)
    if kind is CorrelationKind.EVENT_COUNT:
        total = np.bincount(slot, weights=block.w, minlength=SLOTS)  # exact below 2^53
    else:
        # Distinct values (or listed rules) per slot: no fewer than any key's in it.
        pairs = pl.DataFrame({"s": slot, "v": block.v}).unique().get_column("s")
        total = np.bincount(pairs.to_numpy(), minlength=SLOTS)
    hot = total >= need
    if block.done.any():
        hot[slot[block.done]] = True
    keep: Bools = hot[slot]
    return keep
