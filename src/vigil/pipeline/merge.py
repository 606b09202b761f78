"""The events of several inputs, passed on in event-time order.

Correlation windows are exact on event time, and a rule's time only moves forward: an
event older than what the rule has seen (minus its lateness) is counted as late and not
used. Reading two logs of the same hours one after the other (two firewalls, several
vhosts' access logs, the auth.log of two hosts) would make nearly all of the second
late. So `analyze` reads its inputs together, the one whose newest event is oldest
first, and holds each input's events here until no input can still bring an older one
(a k-way merge by time); then they go to the sinks as one batch, in time order.

Inputs that do not overlap (rotated files) are read one after the other: each batch is
released as soon as it is read, as it would be alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

import polars as pl

from vigil.pipeline.sinks import BatchSink
from vigil.schema.fields import F


class TimeMerge:
    """Batches held until `release` says how far every input has got."""

    def __init__(self, sinks: Sequence[BatchSink]) -> None:
        self.sinks = sinks
        self._held: list[pl.DataFrame] = []

    def add(self, events: pl.DataFrame) -> None:
        if events.height:
            self._held.append(events)

    def release(self, upto: datetime | None) -> None:
        """Pass on every held event at or before `upto` (None: all of them)."""
        out: list[pl.DataFrame] = []
        kept: list[pl.DataFrame] = []
        for frame in self._held:
            ts = frame.get_column(F.TIMESTAMP)
            if upto is None or _at_most(ts.max(), upto):
                out.append(frame)
            elif not _at_most(ts.min(), upto):
                kept.append(frame)
            else:
                early = ts <= upto
                out.append(frame.filter(early))
                kept.append(frame.filter(~early))
        self._held = kept
        for batch in _in_time_order(out):
            for sink in self.sinks:
                sink.consume(batch)


def _at_most(value: object, bound: datetime) -> bool:
    return isinstance(value, datetime) and value <= bound


def _in_time_order(parts: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """The parts as one batch sorted by time (one part: as it is, in its file's order)."""
    if len(parts) <= 1:
        return parts
    try:
        merged = pl.concat(parts, how="diagonal_relaxed")
    except pl.exceptions.PolarsError:
        # Inputs whose own fields clash in type (a JSON field that is a number in one
        # log and a text in the other): one batch each, oldest first.
        return sorted(parts, key=_oldest)
    return [merged.sort(F.TIMESTAMP, maintain_order=True)]


def _oldest(part: pl.DataFrame) -> datetime:
    # Every event has a time (parsing rejects the others).
    return cast(datetime, part.get_column(F.TIMESTAMP).min())
