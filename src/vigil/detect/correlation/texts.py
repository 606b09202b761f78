"""The text of the events correlation rules hold: one store for every rule, appended once.

A rule's carried rows are numbers (see `carried`): key hashes, times, weights, value
codes. What only an alert needs, the group-by values as text and each event's path,
line and message, stays here, one row per matching event of a batch, whichever rules
use the event (the five sshd rules that read failed logins share their rows). Rules
point at their events by row number; an alert's evidence is gathered from a `view`.

Keys and counted values are compared by the 64-bit hash of their text. That is exact
because the store checks that no two texts it has seen share a hash: a collision (for
the first seed, one a crafted value could aim at) draws a new random seed and hashes
every text again, so the rules never count two keys as one.

Rows no rule holds any more are dropped by `compact`, which the engine calls after each
batch: the store keeps at most about twice the rows the rules hold.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from vigil.detect.correlation import rows as R

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

# Rows below which the store is never compacted (compaction costs a gather of all).
COMPACT_MIN = 4096
# New seeds tried after a collision before giving up (each fails with p ~ n^2 / 2^64).
_SEEDS = 64
_H = "h"
_T = "t"
_SEEN = "_seen"
# Batches appended to the seen texts before they are put in one piece again.
_CHUNKS = 16
# Seen texts per stored row above which compaction forgets those no longer stored.
_SEEN_PER_ROW = 4


class HashCollision(RuntimeError):
    """Every seed tried hashed two texts alike: the hash function cannot tell them apart."""


class TextStore:
    """Text columns of the events correlation rules hold, and the seed of their hashes."""

    def __init__(self, columns: Sequence[str]) -> None:
        """`columns`: the names of the text columns beside time, path, line and message."""
        self.columns = tuple(columns)
        self.schema: dict[str, pl.DataType] = {
            R.TS: pl.Int64(),
            R.PATH: pl.String(),
            R.LINE: pl.Int64(),
            R.MSG: pl.String(),
        }
        self.schema.update({c: pl.String() for c in self.columns})
        self.frame = pl.DataFrame(schema=self.schema)
        self.seed = 0
        # Every (hash, text) pair of the texts stored so far, one row per text.
        self._seen = pl.DataFrame(schema={_H: pl.UInt64(), _T: pl.String()})
        self._check_at = COMPACT_MIN

    @property
    def height(self) -> int:
        return self.frame.height

    def hash(self, text: pl.Expr) -> pl.Expr:
        """The hash the rules compare `text` by (call `accept` before relying on it)."""
        return text.hash(seed=self.seed)

    def append(self, part: pl.DataFrame) -> I64:
        """Store rows laid out as `schema` (text columns it lacks are null); their row
        numbers."""
        have = part.columns
        part = part.select(
            pl.col(c) if c in have else pl.lit(None, dtype=dtype).alias(c)
            for c, dtype in self.schema.items()
        )
        first = self.frame.height
        self.frame = pl.concat([self.frame, part], how="vertical")
        return np.arange(first, self.frame.height, dtype=np.int64)

    def accept(self, pairs: pl.DataFrame) -> bool:
        """Add (hash, text) pairs (columns `h`, `t`) hashed with the current seed; False
        when some hash now stands for two texts (call `reseed`)."""
        pairs = pairs.select(_H, _T).unique()
        # Hashes seen before must come with the text they came with; only the others
        # are added, and they must differ from one another. The join is on the hash:
        # the texts are compared, not hashed again.
        known = pairs.join(
            self._seen.with_columns(pl.lit(value=True).alias(_SEEN)),
            on=_H,
            how="left",
            suffix=_SEEN,
        )
        matched = known.get_column(_SEEN).is_not_null()
        if (matched & known.get_column(_T).ne_missing(known.get_column(_T + _SEEN))).any():
            return False
        new = known.filter(~matched).select(_H, _T)
        if new.get_column(_H).n_unique() != new.height:
            return False
        if new.height:
            self._seen = pl.concat([self._seen, new])
            if self._seen.n_chunks() > _CHUNKS:
                self._seen = self._seen.rechunk()
        return True

    def pairs(self, frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """The distinct (hash, text) pairs of `frame`'s text columns, with this seed."""
        # Nulls too: a marker's missing value (see RuleState.carry) is a code of its own.
        texts = [frame.get_column(c).unique() for c in columns]
        if not texts:
            return self._seen.clear()
        distinct = pl.concat(texts).unique().alias(_T).to_frame()
        return distinct.select(self.hash(pl.col(_T)).alias(_H), _T)

    def reseed(self) -> None:
        """Hash every stored text with new seeds until no two share a hash."""
        rng = random.Random()
        for _ in range(_SEEDS):
            self.seed = rng.getrandbits(64)
            self._seen = self._seen.clear()
            if self.accept(self.pairs(self.frame, self.columns)):
                return
        raise HashCollision(f"{_SEEDS} seeds all hashed two correlation texts alike")

    def hashes(self, column: str) -> U64:
        """The hash of every stored row's text in `column`, with the current seed."""
        out: U64 = self.frame.select(self.hash(pl.col(column))).to_series().to_numpy()
        return out

    def view(self, columns: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """The store with the time, path, line and message, and text columns renamed
        as (new name, stored column): a rule's evidence block, without a copy."""
        # Series put together, not a select: no query to plan for a handful of columns.
        have = self.frame.get_column
        return pl.DataFrame(
            [have(c) for c in (R.TS, R.PATH, R.LINE, R.MSG)]
            + [have(src).alias(name) for name, src in columns]
        )

    def compact(self, held: Sequence[I64]) -> I64 | None:
        """Drop rows none of `held` (the rules' row numbers) points at, when they are most
        of the store; the kept old row numbers in order (new number = position), or None
        when nothing moved."""
        if self.frame.height < self._check_at:
            return None
        live = np.unique(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
        moved = None
        if 2 * live.size <= self.frame.height:
            self.frame = self.frame[pl.Series(live)]
            # Texts no longer stored may stay among those seen (a collision with one only
            # draws a new seed too early) until they outnumber the store's rows.
            if self._seen.height > _SEEN_PER_ROW * max(self.frame.height, COMPACT_MIN):
                self._seen = self.pairs(self.frame, self.columns)
            moved = live
        self._check_at = max(COMPACT_MIN, 2 * self.frame.height)
        return moved
