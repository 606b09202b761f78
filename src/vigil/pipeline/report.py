"""What an analysis found, per file and in total; rendered by the CLI as text or JSON."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from vigil import __version__
from vigil.parsers.base import ENGINE
from vigil.schema.fields import F

TOP_N = 10


@dataclass
class FileReport:
    path: str
    format: str | None = None
    compression: str | None = None
    lines: int = 0
    # Lines that became events; lines = parsed + rejected + skipped, always.
    parsed: int = 0
    events: int = 0
    rejected: int = 0
    skipped: int = 0
    replaced_bytes: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    reject_reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    def add_span(self, batch: pl.DataFrame) -> None:
        ts = batch.get_column(F.TIMESTAMP)
        lo, hi = ts.min(), ts.max()
        if isinstance(lo, datetime) and (self.first_event is None or lo < self.first_event):
            self.first_event = lo
        if isinstance(hi, datetime) and (self.last_event is None or hi > self.last_event):
            self.last_event = hi

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "compression": self.compression,
            "lines": self.lines,
            "parsed": self.parsed,
            "events": self.events,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "replaced_bytes": self.replaced_bytes,
            "first_event": _iso(self.first_event),
            "last_event": _iso(self.last_event),
            "reject_reasons": dict(self.reject_reasons.most_common()),
            "error": self.error,
        }


# Tallied label columns (few distinct values), each with its counter on EventTally; they
# are counted together, by one group-by over the three.
_LABELS = (
    (F.EVENT_ACTION, "actions"),
    (F.EVENT_OUTCOME, "outcomes"),
    (F.EVENT_DATASET, "datasets"),
)
_LABEL_COLUMNS = [column for column, _ in _LABELS]
_WEIGHT = pl.col(F.EVENT_COUNT).cast(pl.Int64).sum().alias("n")
# Partial counts held before they are merged: bounds memory whatever the input size.
_MERGE_ROWS = 200_000


@dataclass
class EventTally:
    """Counts over all events, by source, action and outcome (weighted by event.count).
    The counters are complete once `close()` has run."""

    sources: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    datasets: Counter[str] = field(default_factory=Counter)
    # Per-batch counts not yet in the counters (by source; by action, outcome and
    # dataset together): merged in polars, which costs less than updating a Counter per
    # batch (a firewall batch has ~10^5 source addresses).
    _sources: list[pl.DataFrame] = field(default_factory=list, repr=False)
    _labels: list[pl.DataFrame] = field(default_factory=list, repr=False)
    _partial_rows: int = field(default=0, repr=False)

    def consume(self, batch: pl.DataFrame) -> None:
        by_source, by_label = pl.collect_all(
            [
                batch.lazy()
                .filter(pl.col(F.SOURCE_IP).is_not_null())
                .group_by(F.SOURCE_IP)
                .agg(_WEIGHT),
                batch.lazy().group_by(_LABEL_COLUMNS).agg(_WEIGHT),
            ],
            engine=ENGINE,
        )
        self._sources.append(by_source)
        self._labels.append(by_label)
        self._partial_rows += by_source.height + by_label.height
        if self._partial_rows > _MERGE_ROWS:
            self._merge()
            # Many distinct keys: merge less often rather than at every batch.
            if self._partial_rows > _MERGE_ROWS // 2:
                self._fold()

    def close(self) -> None:
        """Fold the partial counts into the counters."""
        self._fold()

    def _merge(self) -> None:
        n = pl.col("n").sum()
        self._sources = [pl.concat(self._sources).group_by(F.SOURCE_IP).agg(n)]
        self._labels = [pl.concat(self._labels).group_by(_LABEL_COLUMNS).agg(n)]
        self._partial_rows = self._sources[0].height + self._labels[0].height

    def _fold(self) -> None:
        if not self._sources:
            return
        self._merge()
        (sources,), (labels,) = self._sources, self._labels
        self.sources.update(_counts(sources, F.SOURCE_IP))
        for column, name in _LABELS:
            counter: Counter[str] = getattr(self, name)
            by_one = (
                labels.filter(pl.col(column).is_not_null()).group_by(column).agg(pl.col("n").sum())
            )
            counter.update(_counts(by_one, column))
        self._sources, self._labels, self._partial_rows = [], [], 0


def ranked(counter: Counter[str], n: int | None = None) -> list[tuple[str, int]]:
    """The `n` largest counts (all without `n`), ties by value: the same input gives the
    same list, whatever order the counts were merged in (`most_common` keeps that order)."""
    items = counter.items()
    if n is None:
        return sorted(items, key=_rank)
    return heapq.nsmallest(n, items, key=_rank)


def _rank(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _counts(counts: pl.DataFrame, column: str) -> dict[str, int]:
    return dict(zip(counts[column].to_list(), counts["n"].to_list(), strict=True))


@dataclass
class AnalysisReport:
    files: list[FileReport] = field(default_factory=list)
    tally: EventTally = field(default_factory=EventTally)
    # Later stages (detection, response) add their sections here, keyed by name.
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "vigil": __version__,
            "files": [f.to_json() for f in self.files],
            "lines": self.lines,
            "events": self.events,
            "rejected": self.rejected,
            "top_sources": [
                {"source.ip": ip, "events": n} for ip, n in ranked(self.tally.sources, TOP_N)
            ],
            "event_actions": dict(ranked(self.tally.actions)),
            "event_outcomes": dict(ranked(self.tally.outcomes)),
            "event_datasets": dict(ranked(self.tally.datasets)),
        }
        doc.update(self.sections)
        return doc


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")
