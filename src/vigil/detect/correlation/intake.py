"""A batch's matches, read once for all correlation rules.

Each referenced rule's matching rows arrive as a slice of a Batch. Each slice is read
once, whichever rules use it: its time, weight, path, line and message, and the text
of every field a rule groups by or counts, go to the `TextStore`; the hashes of those
texts and the times come back as numpy columns, from which every rule takes its rows
(`Carried`), with no further polars work. A rule drops the rows it cannot place (no
time, or a null group-by or counted value) and counts them, never silently.

Where a rule's values are stored: a field's text is one column (`_t:source.ip`) shared
by every rule that reads that field; a rule whose referenced rules hold one group-by
value in different fields (aliases) gets a column of its own (`_a3:g0`), filled from
the field each referenced rule names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from vigil.detect.correlation import rows as R
from vigil.detect.correlation.carried import I64, U64, Bools, Carried
from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.detect.correlation.texts import TextStore
from vigil.schema.fields import F

# Prefix of the hash columns read beside the text columns.
_HASH = "#"
# Prefix of the store columns of a field shared by all rules that read it.
_SHARED = "_t:"
# Expression lists kept for the schemas seen.
_READINGS = 64


@dataclass(frozen=True)
class RuleColumns:
    """The store columns of one rule's group-by values and counted value."""

    groups: tuple[str, ...]
    value: str | None


@dataclass
class _Part:
    """One slice of a batch as stored: which field fills each store column."""

    key: str
    sources: dict[str, str | None] = field(default_factory=dict)


@dataclass
class _Read:
    ts: I64
    has_ts: Bools
    w: I64
    ids: I64
    hashes: dict[str, U64]
    nulls: dict[str, Bools]


def rule_columns(specs: Sequence[CorrelationSpec]) -> list[RuleColumns]:
    out = []
    for k, spec in enumerate(specs):
        groups = tuple(
            _column({ref.group_fields[i] for ref in spec.rules}, f"_a{k}:g{i}")
            for i in range(len(spec.group_by))
        )
        value = (
            _column({ref.value_field for ref in spec.rules}, f"_a{k}:v")
            if spec.kind is CorrelationKind.VALUE_COUNT
            else None
        )
        out.append(RuleColumns(groups, value))
    return out


class Intake:
    """Reads batches' matches for a set of correlation rules into one TextStore."""

    def __init__(self, specs: Sequence[CorrelationSpec], store: TextStore) -> None:
        self.specs = list(specs)
        self.columns = rule_columns(self.specs)
        self.store = store
        self._readings: dict[tuple[object, ...], list[pl.Expr]] = {}

    def read(self, matches: Mapping[str, pl.DataFrame]) -> list[tuple[Carried, int] | None]:
        """Per rule: its placed rows of this batch and how many it could not place;
        None for a rule with no rows in `matches`."""
        parts: list[_Part] = []
        uses: dict[tuple[int, int], int] = {}  # (rule, position) -> part
        for k, spec in enumerate(self.specs):
            for position, ref in enumerate(spec.rules):
                # The same rows may be handed over under the rule's name and under its id:
                # take the first key present, so they are never counted twice.
                key = next((key for key in ref.keys if key in matches), None)
                if key is None or matches[key].height == 0:
                    continue
                wanted = self._sources(k, position)
                uses[(k, position)] = _place(parts, key, wanted)
        if not parts:
            return [None] * len(self.specs)
        reads = self._store(parts, matches)
        return [self._rows(k, uses, reads) for k in range(len(self.specs))]

    def _sources(self, k: int, position: int) -> dict[str, str | None]:
        ref, cols = self.specs[k].rules[position], self.columns[k]
        out: dict[str, str | None] = dict(zip(cols.groups, ref.group_fields, strict=True))
        if cols.value is not None:
            out[cols.value] = ref.value_field
        return out

    def _store(self, parts: list[_Part], matches: Mapping[str, pl.DataFrame]) -> list[_Read]:
        store = self.store
        # Slices of one batch with the same columns are read in one pass: the sigma
        # detector hands over each rule's matches as a slice of one frame.
        # (Only slices that need the same fields: reading a field for rows that do not
        # need it, say a port as text for every connection, costs more than a pass.)
        groups: dict[tuple[object, ...], list[int]] = {}
        for i, part in enumerate(parts):
            sources = tuple(sorted(part.sources.items(), key=lambda item: item[0]))
            groups.setdefault((tuple(matches[part.key].schema.items()), sources), []).append(i)
        selected: list[pl.DataFrame] = []
        members: list[list[int]] = []
        for at in groups.values():
            frames = [matches[parts[i].key] for i in at]
            frame = pl.concat(frames) if len(frames) > 1 else frames[0]
            selected.append(frame.select(self._reading(frame.schema, parts[at[0]].sources)))
            members.append(at)
        # One append and one check of the new texts for the whole batch.
        stored = pl.concat([sel.select(store.schema.keys()) for sel in selected])
        first = store.height
        store.append(stored)
        used = sorted({c for part in parts for c in part.sources})
        if not store.accept(store.pairs(stored, used)):
            store.reseed()
            selected = [
                sel.with_columns(
                    store.hash(pl.col(c)).alias(_HASH + c) for c in used if _HASH + c in sel.columns
                )
                for sel in selected
            ]
        reads: list[_Read | None] = [None] * len(parts)
        for sel, at in zip(selected, members, strict=True):
            ts_col = sel.get_column(R.TS)
            has_ts = _present(ts_col)
            # Without a time the row is not placed: any integer stands in.
            ts = (ts_col.fill_null(0) if ts_col.null_count() else ts_col).to_numpy()
            w = sel.get_column(R.W).to_numpy()
            cols = [c for c in used if _HASH + c in sel.columns]
            hashes = {c: sel.get_column(_HASH + c).to_numpy() for c in cols}
            nulls = {c: ~_present(sel.get_column(c)) for c in cols}
            lo = 0
            for i in at:
                hi = lo + matches[parts[i].key].height
                cut = slice(lo, hi)
                reads[i] = _Read(
                    ts=ts[cut],
                    has_ts=has_ts[cut],
                    w=w[cut],
                    ids=np.arange(first + lo, first + hi, dtype=np.int64),
                    hashes={c: hashes[c][cut] for c in parts[i].sources},
                    nulls={c: nulls[c][cut] for c in parts[i].sources},
                )
                lo = hi
            first += sel.height
        return [r for r in reads if r is not None]

    def _reading(
        self, have: Mapping[str, pl.DataType], sources: Mapping[str, str | None]
    ) -> list[pl.Expr]:
        """What is read of rows of this schema: the store's columns, the times and
        weights, and each used text's hash and null flag (kept while the seed holds)."""
        key = (tuple(have.items()), tuple(sorted(sources.items())), self.store.seed)
        exprs = self._readings.get(key)
        if exprs is None:
            if len(self._readings) >= _READINGS:
                self._readings.clear()
            texts = {c: R.text(have, sources.get(c)) for c in self.store.columns}
            exprs = [
                R.timestamp(have).alias(R.TS),
                R.weight(have).alias(R.W),
                R.text(have, F.LOG_FILE_PATH).alias(R.PATH),
                R.line(have).alias(R.LINE),
                R.text(have, F.MESSAGE).alias(R.MSG),
                *(texts[c].alias(c) for c in self.store.columns),
                *(self.store.hash(texts[c]).alias(_HASH + c) for c in sources),
            ]
            self._readings[key] = exprs
        return exprs

    def _rows(
        self, k: int, uses: dict[tuple[int, int], int], reads: list[_Read]
    ) -> tuple[Carried, int] | None:
        spec, cols = self.specs[k], self.columns[k]
        pieces: list[Carried] = []
        placed_parts: list[Bools] = []
        for position, ref in enumerate(spec.rules):
            at = uses.get((k, position))
            if at is None:
                continue
            read = reads[at]
            n = read.ts.size
            # A rule listed again (A then A in temporal_ordered) hands over the same
            # events once per position; only its first position weighs them.
            first = next(j for j, r in enumerate(spec.rules) if r.reference == ref.reference)
            placed = read.has_ts.copy()
            for c in cols.groups:
                placed &= ~read.nulls[c]
            if spec.kind is CorrelationKind.VALUE_COUNT:
                assert cols.value is not None
                placed &= ~read.nulls[cols.value]
                v = read.hashes[cols.value].view(np.int64)
            elif spec.kind is CorrelationKind.EVENT_COUNT:
                v = np.zeros(n, dtype=np.int64)
            else:
                v = np.full(n, position, dtype=np.int64)
            pieces.append(
                Carried(
                    keys=tuple(read.hashes[c] for c in cols.groups),
                    ts=read.ts,
                    w=read.w if first == position else np.zeros(n, dtype=np.int64),
                    v=v,
                    ids=read.ids,
                    done=np.zeros(n, dtype=np.bool_),
                    peak=np.full(n, -1, dtype=np.int64),
                    peak_at=np.full(n, -1, dtype=np.int64),
                )
            )
            placed_parts.append(placed)
        if not pieces:
            return None
        rows = Carried.concat(pieces)
        placed = np.concatenate(placed_parts)
        unplaced = int(placed.size - np.count_nonzero(placed))
        return (rows.take(placed) if unplaced else rows), unplaced


def _present(values: pl.Series) -> Bools:
    """Where `values` is not null (no pass over them when none is)."""
    if not values.null_count():
        return np.ones(values.len(), dtype=np.bool_)
    present: Bools = values.is_not_null().to_numpy()
    return present


def _column(fields: set[str | None], alias: str) -> str:
    (only,) = fields if len(fields) == 1 else (None,)
    if only is None:
        # Different fields per referenced rule (or none): a column of the rule's own.
        return alias
    return f"{_SHARED}{only}"


def _place(parts: list[_Part], key: str, wanted: dict[str, str | None]) -> int:
    """The part of `key` whose columns agree with `wanted` (a new one if none does)."""
    for i, part in enumerate(parts):
        if part.key == key and all(part.sources.get(c, f) == f for c, f in wanted.items()):
            part.sources.update(wanted)
            return i
    parts.append(_Part(key, dict(wanted)))
    return len(parts) - 1
