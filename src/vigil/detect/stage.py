"""The detection stage of the pipeline: Sigma rules, correlations and the alert gate,
as one BatchSink.

Per Batch: every compiled rule is evaluated once; the rules' matches feed the
correlation engine; the alerts of both pass the gate (suppressions, dedup, throttle,
store). At the end of a finite input (`close`), every open correlation episode is
decided, since no later event can change it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from vigil.alerts.gate import AlertGate
from vigil.alerts.model import MAX_EVIDENCE, Alert
from vigil.clock import Clock
from vigil.detect.correlation.engine import DEFAULT_MAX_SKEW, CorrelationEngine
from vigil.detect.rulepack import RulePack
from vigil.detect.sigma.detector import SigmaDetector
from vigil.schema.fields import F


class DetectionStage:
    def __init__(
        self,
        pack: RulePack,
        gate: AlertGate,
        clock: Clock,
        *,
        max_evidence: int = MAX_EVIDENCE,
        live: bool = False,
    ) -> None:
        """`live`: events arrive as they are written, so one dated far past the clock is a
        forgery or a broken clock and is kept out of the windows (see the correlation
        engine's max_skew). A replay of files (`live=False`) has no such "now"."""
        self.pack = pack
        self.gate = gate
        self.clock = clock
        self.correlation = CorrelationEngine(
            pack.correlations,
            clock=clock,
            max_evidence=max_evidence,
            max_skew=DEFAULT_MAX_SKEW if live else None,
        )
        self.sigma = SigmaDetector(
            pack.compiled,
            clock=clock,
            max_evidence=max_evidence,
            silent=self.correlation.quiet_rules() | pack.quiet,
        )
        self.matched: Counter[str] = Counter()
        self._newest: datetime | None = None

    def consume(self, batch: pl.DataFrame) -> None:
        alerts, matches = self.sigma.process_with_matches(batch)
        for key, rows in matches.items():
            self.matched[key] += rows.height
        newest = batch.get_column(F.TIMESTAMP).max()
        end = newest if isinstance(newest, datetime) else None
        if end is not None and (self._newest is None or end > self._newest):
            self._newest = end
        alerts += self.correlation.process(matches, batch_end=end)
        self.gate.admit(alerts)

    def close(self) -> None:
        """The input is over: decide every open episode now."""
        horizon = max((s.timespan for s in self.correlation.specs), default=timedelta(0))
        now = self.clock.now()
        if self._newest is not None and self._newest > now:
            now = self._newest
        self.gate.admit(self.correlation.flush(now + 2 * horizon + timedelta(seconds=1)))
        self.gate.flush()

    @property
    def alerts(self) -> Sequence[Alert]:
        """The run's alerts by first event, then rule name (read when iterated, if the
        gate spills them)."""
        return self.gate.alerts.ordered()

    def summary(self) -> dict[str, Any]:
        """The detection section of the JSON document, beside "alerts"."""
        return {
            "rules": len(self.pack.compiled),
            "correlations": len(self.pack.correlations),
            "unsupported": [{"rule": u.title, "reason": u.reason} for u in self.pack.unsupported]
            + [{"rule": r.title, "reason": r.reason} for r in self.pack.refused],
            "disabled": self.pack.disabled,
            "repeats_folded": self.gate.repeats,
            "suppressed": dict(self.gate.suppressed),
            "late_events": {s.rule_name: s.late for s in self.correlation.stats() if s.late},
        }

    def alerts_json(self) -> Sequence[dict[str, Any]]:
        """The "alerts" of the JSON document, in `alerts` order; `"new"` is false for an
        alert that continues one an earlier run stored."""
        return self.gate.alerts.documents(self.gate.known)
