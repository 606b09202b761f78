"""A correlation rule's rows as numpy columns: what it carries from batch to batch.

Only numbers: the hash of each group-by value (exact, see `texts`), time, weight, the
counted value's code or the rule's position, the row of the event's text in the
`TextStore`, and the episode flags. Splitting, merging and filtering them per batch
costs a few microseconds per column, where the same on a polars frame with the text
columns cost a fraction of a millisecond per operation and copied the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

# Mixes the hashes of several group-by values into one bucket (any odd constant does:
# the bucket only narrows candidates, the values themselves tell keys apart).
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class Carried:
    keys: tuple[U64, ...]  # per group-by field: the hash of its text
    ts: I64  # @timestamp, microseconds since the epoch
    w: I64  # weight: event.count
    v: I64  # value_count: the value's code; temporal: the rule's position; else 0
    ids: I64  # the event's row in the TextStore
    done: Bools  # lower-bound rules: the row's episode has fired
    peak: I64  # deferred rules: the largest measure of the row's episode so far
    peak_at: I64  # ... and the end of the first window that reached it

    @classmethod
    def empty(cls, groups: int) -> Carried:
        none = np.zeros(0, dtype=np.int64)
        return cls(
            keys=tuple(np.zeros(0, dtype=np.uint64) for _ in range(groups)),
            ts=none,
            w=none,
            v=none,
            ids=none,
            done=np.zeros(0, dtype=np.bool_),
            peak=none,
            peak_at=none,
        )

    @property
    def size(self) -> int:
        return int(self.ts.size)

    def bucket(self) -> U64:
        """One hash per row for its key: equal keys, equal buckets (not the converse)."""
        if not self.keys:
            return np.zeros(self.size, dtype=np.uint64)
        out = self.keys[0]
        with np.errstate(over="ignore"):
            for more in self.keys[1:]:
                out = out * _MIX + more
        return out

    def take(self, index: Bools | I64) -> Carried:
        """The rows a boolean mask or an index array picks, in its order."""
        if index.dtype == np.bool_:
            index = np.flatnonzero(index)  # once, not once per column
        return Carried(
            keys=tuple(k[index] for k in self.keys),
            ts=self.ts[index],
            w=self.w[index],
            v=self.v[index],
            ids=self.ids[index],
            done=self.done[index],
            peak=self.peak[index],
            peak_at=self.peak_at[index],
        )

    @staticmethod
    def concat(parts: Sequence[Carried]) -> Carried:
        """The rows of `parts`, one after the other (at least one part)."""
        full = [p for p in parts if p.size]
        if len(full) <= 1:
            return full[0] if full else parts[0]
        return Carried(
            keys=tuple(np.concatenate(k) for k in zip(*(p.keys for p in full), strict=True)),
            ts=np.concatenate([p.ts for p in full]),
            w=np.concatenate([p.w for p in full]),
            v=np.concatenate([p.v for p in full]),
            ids=np.concatenate([p.ids for p in full]),
            done=np.concatenate([p.done for p in full]),
            peak=np.concatenate([p.peak for p in full]),
            peak_at=np.concatenate([p.peak_at for p in full]),
        )

    def key_order(self) -> tuple[I64, Bools]:
        """Row indices in (key, time) order, and where a new key starts in that order."""
        order = np.lexsort((self.ts, *reversed(self.keys))).astype(np.int64)
        new_key = np.ones(self.size, dtype=np.bool_)
        if self.keys and self.size:
            new_key[1:] = False
            for k in self.keys:
                ranked = k[order]
                new_key[1:] |= ranked[1:] != ranked[:-1]
        elif self.size:
            new_key[1:] = False
        return order, new_key

    def distinct_keys(self) -> int:
        if not self.size:
            return 0
        if not self.keys:
            return 1
        _, new_key = self.key_order()
        return int(new_key.sum())
