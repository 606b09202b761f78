"""The correlation stage: every correlation rule's state, one event-time watermark."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from vigil.alerts.model import MAX_EVIDENCE, Alert
from vigil.clock import Clock, SystemClock
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.intake import Intake, RuleColumns, rule_columns
from vigil.detect.correlation.spec import CorrelationSpec
from vigil.detect.correlation.state import RuleState
from vigil.detect.correlation.texts import TextStore

# How far past the clock an event may be dated and still count.
DEFAULT_MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CorrelationStats:
    rule_name: str
    late: int  # ignored: older than the allowed lateness when they arrived
    future: int  # ignored: dated more than max_skew after the clock
    unplaced: int  # ignored: no time, group-by value or counted value
    alerts: int
    live_keys: int
    rows: int  # events held in windows


class CorrelationEngine:
    """Runs correlation specs over the matching rows of their referenced rules."""

    def __init__(
        self,
        specs: Iterable[CorrelationSpec],
        *,
        lateness: timedelta | None = None,
        clock: Clock | None = None,
        max_skew: timedelta | None = DEFAULT_MAX_SKEW,
        max_evidence: int = MAX_EVIDENCE,
    ) -> None:
        one_us = timedelta(microseconds=1)
        specs = list(specs)
        self._texts = TextStore(sorted({c for cols in rule_columns(specs) for c in _names(cols)}))
        self._intake = Intake(specs, self._texts)
        self._states = [
            RuleState(
                spec,
                (lateness if lateness is not None else spec.timespan) // one_us,
                max_evidence,
                self._texts,
                columns,
            )
            for spec, columns in zip(specs, self._intake.columns, strict=True)
        ]
        self._future = [0] * len(self._states)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._max_skew = max_skew
        # One event time per rule: a rule's time moves only with the events it sees, so
        # reading auth.log and then an access.log of the same hours makes no web event late.
        self._watermarks: list[int | None] = [None] * len(self._states)

    @property
    def specs(self) -> tuple[CorrelationSpec, ...]:
        return tuple(s.spec for s in self._states)

    @property
    def watermark(self) -> datetime | None:
        """The newest event time any rule has reached (its events, batch end or flush)."""
        known = [w for w in self._watermarks if w is not None]
        return R.to_datetime(max(known)) if known else None

    def process(
        self, matches: Mapping[str, pl.DataFrame], *, batch_end: datetime | None = None
    ) -> list[Alert]:
        """Feed one batch: each referenced rule's matching rows, under its name or id.

        Each correlation rule's event time moves to the newest of its own rows. With
        `batch_end` (the newest @timestamp of the batch), a rule whose referenced rules are
        present in `matches` (an empty frame says "this batch was mine, nothing matched")
        moves on to it, so its quiet keys expire. Rules of other logs keep their own time.
        """
        # No limit when replaying files: their events may lie anywhere relative to now.
        limit = R.to_us(
            self._clock.now() + self._max_skew
            if self._max_skew is not None
            else datetime.max.replace(tzinfo=UTC)
        )
        end = R.to_us(batch_end) if batch_end is not None else None
        alerts: list[Alert] = []
        readings = self._intake.read(matches)
        for k, state in enumerate(self._states):
            reading = readings[k]
            rows = reading[0] if reading is not None else None
            if reading is not None:
                state.counters.unplaced += reading[1]
            if rows is not None and rows.size:
                timely = rows.ts <= limit
                future = rows.size - int(np.count_nonzero(timely))
                if future:
                    self._future[k] += future
                    rows = rows.take(timely)
            present = any(key in matches for ref in state.spec.rules for key in ref.keys)
            if (rows is None or not rows.size) and (end is None or not present):
                continue
            if rows is None:
                rows = state.held.take(np.zeros(0, dtype=np.int64))
            times = [int(rows.ts.max())] if rows.size else []
            newest = max([*times, *([end] if end is not None else [])])
            before = self._watermarks[k]
            after = min(newest, limit) if before is None else max(before, min(newest, limit))
            alerts.extend(state.ingest(rows, before, after))
            self._watermarks[k] = after
        self._compact()
        return _ordered(alerts)

    def flush(self, now: datetime) -> list[Alert]:
        """Event time reached `now` with no events: expire keys, settle finished episodes."""
        alerts: list[Alert] = []
        for k, state in enumerate(self._states):
            mark = self._watermarks[k]
            at = R.to_us(now) if mark is None else max(R.to_us(now), mark)
            self._watermarks[k] = at
            fired = state.advance(at)
            state.counters.alerts += len(fired)
            alerts.extend(fired)
        self._compact()
        return _ordered(alerts)

    def quiet_rules(self) -> frozenset[str]:
        """Names/ids of referenced rules that must not raise alerts of their own.

        Sigma's `generate: false` (the default) keeps a referenced rule quiet; a rule that
        any correlation references with `generate: true` still alerts on its own.
        """
        loud: set[str] = set()
        quiet: set[str] = set()
        for spec in self.specs:
            for ref in spec.rules:
                (loud if spec.generate else quiet).update(ref.keys)
        return frozenset(quiet - loud)

    def stats(self) -> list[CorrelationStats]:
        return [
            CorrelationStats(
                rule_name=s.spec.name,
                late=s.counters.late,
                future=future,
                unplaced=s.counters.unplaced,
                alerts=s.counters.alerts,
                live_keys=s.live_keys,
                rows=s.size,
            )
            for s, future in zip(self._states, self._future, strict=True)
        ]

    def _compact(self) -> None:
        kept = self._texts.compact([s.held.ids for s in self._states])
        if kept is not None:
            for state in self._states:
                state.renumber(kept)


def _names(columns: RuleColumns) -> list[str]:
    return [*columns.groups, *([columns.value] if columns.value is not None else [])]


def _ordered(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.last_seen, a.rule_name))
