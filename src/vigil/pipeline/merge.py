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
from typing import NamedTuple, cast

import polars as pl

from vigil.pipeline.sinks import BatchSink
from vigil.schema.fields import F


class TimeMerge:
    """Batches held until `release` says how far every input has got."""

    def __init__(self, sinks: Sequence[BatchSink]) -> None:
        self.sinks = sinks
        # Each held part with its oldest and newest time, measured once: with many inputs
        # open, a part waits through many releases.
        self._held: list[_Part] = []

    def add(self, events: pl.DataFrame) -> datetime | None:
        """Hold these events (every one has a time); their newest time."""
        if not events.height:
            return None
        ts = events.get_column(F.TIMESTAMP)
        part = _Part(events, cast(datetime, ts.min()), cast(datetime, ts.max()))
        self._held.append(part)
        return part.newest

    def release(self, upto: datetime | None) -> None:
        """Pass on every held event at or before `upto` (None: all of them)."""
        out: list[_Part] = []
        kept: list[_Part] = []
        for part in self._held:
            if upto is None or part.newest <= upto:
                out.append(part)
            elif part.oldest > upto:
                kept.append(part)
            else:
                ts = part.frame.get_column(F.TIMESTAMP)
                early = ts <= upto
                out.append(_Part(part.frame.filter(early), part.oldest, upto))
                later = cast(datetime, ts.filter(~early).min())
                kept.append(_Part(part.frame.filter(~early), later, part.newest))
        self._held = kept
        for batch in _in_time_order(out):
            for sink in self.sinks:
                sink.consume(batch)


class _Part(NamedTuple):
    frame: pl.DataFrame
    oldest: datetime
    newest: datetime


def _in_time_order(parts: list[_Part]) -> list[pl.DataFrame]:
    """The parts as one batch sorted by time (one part: as it is, in its file's order)."""
    if len(parts) <= 1:
        return [p.frame for p in parts]
    try:
        merged = pl.concat([p.frame for p in parts], how="diagonal_relaxed")
    except pl.exceptions.PolarsError:
        # Inputs whose own fields clash in type (a JSON field that is a number in one
        # log and a text in the other): one batch each, oldest first.
        return [p.frame for p in sorted(parts, key=lambda p: p.oldest)]
    return [merged.sort(F.TIMESTAMP, maintain_order=True)]
