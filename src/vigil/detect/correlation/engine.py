"""The correlation stage: every correlation rule's state, one event-time watermark."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from vigil.alerts.model import MAX_EVIDENCE, Alert
from vigil.clock import Clock, SystemClock
from vigil.detect.correlation import rows as R
from vigil.detect.correlation.spec import CorrelationSpec
from vigil.detect.correlation.state import RuleState

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
        self._states = [
            RuleState(
                spec, (lateness if lateness is not None else spec.timespan) // one_us, max_evidence
            )
            for spec in specs
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
        for k, state in enumerate(self._states):
            rows, unplaced = R.normalize(state.spec, matches)
            state.counters.unplaced += unplaced
            if rows.height:
                timely = rows.filter(pl.col(R.TS) <= limit)
                self._future[k] += rows.height - timely.height
                rows = timely
            present = any(key in matches for ref in state.spec.rules for key in ref.keys)
            if not rows.height and (end is None or not present):
                continue
            times = [int(rows[R.TS].max())] if rows.height else []  # type: ignore[arg-type]
            newest = max([*times, *([end] if end is not None else [])])
            before = self._watermarks[k]
            after = min(newest, limit) if before is None else max(before, min(newest, limit))
            alerts.extend(state.ingest(rows, before, after))
            self._watermarks[k] = after
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
                rows=s.carry.height,
            )
            for s, future in zip(self._states, self._future, strict=True)
        ]


def _ordered(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.last_seen, a.rule_name))
