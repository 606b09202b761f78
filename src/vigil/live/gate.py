"""The alert gate of the live monitor: the gate of `vigil analyze`, plus what makes a
restart repeat no alert.

After a restart the daemon re-reads lines that an earlier run already committed (from
the replay position), to rebuild the windows they left open. Alerts raised while those
lines are processed were committed with them, so the gate drops them (`replaying`).
A correlation alert raised later can still be one the earlier run committed: an episode
it settled on a timer after the last line it read. Such an alert starts before the
stored alert of its rule and entity ends; a new episode of the same rule and entity
always starts after it (episodes are separated by a gap longer than the window), so
the gate drops exactly these.

A daemon runs for months: the base gate keeps every alert of its run in memory, which
`prune` bounds. An alert whose last event is more than the throttle before now can no
longer take a repeat from memory alone; the stored row (asked by fingerprint) still
answers, so forgetting it changes no decision.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta
from typing import Any

from vigil.alerts.documents import EncodedAlert
from vigil.alerts.gate import AlertGate, GateOutcome
from vigil.alerts.model import Alert
from vigil.alerts.shelf import MemoryShelf
from vigil.clock import Clock
from vigil.store.alerts import AlertRepository


class LiveGate(AlertGate):
    def __init__(
        self,
        clock: Clock,
        *,
        correlation_rules: Collection[str],
        repository: AlertRepository,
        throttle: timedelta,
        **kwargs: Any,
    ) -> None:
        self._shelf = _DroppingShelf()
        super().__init__(
            clock, repository=repository, throttle=throttle, shelf=self._shelf, **kwargs
        )
        self.correlation_rules = frozenset(correlation_rules)
        self.replaying = False
        self.replayed = 0  # alerts of re-read lines, dropped
        self.duplicates = 0  # correlation alerts already stored, dropped
        self.raised: list[Alert] = []  # admitted since the last take_raised()

    def admit(self, alerts: list[Alert]) -> GateOutcome:
        if self.replaying:
            self.replayed += len(alerts)
            return GateOutcome()
        fresh = self._not_stored(alerts)
        out = super().admit(fresh)
        self.raised += out.raised
        return out

    def take_raised(self) -> list[Alert]:
        raised, self.raised = self.raised, []
        return raised

    def prune(self) -> int:
        """Forget alerts too old to take a repeat from memory; how many went."""
        horizon = self.clock.now() - self.throttle
        old = [fp for fp, (_, last) in self._latest.items() if last < horizon]
        for fp in old:
            alert_id, _ = self._latest.pop(fp)
            self._shelf.drop(alert_id)
            self.known.discard(alert_id)
        return len(old)

    def _not_stored(self, alerts: list[Alert]) -> list[Alert]:
        # Alerts of this run are folded by the base gate; only the first of a
        # fingerprint in this run can repeat a stored one.
        ask = [
            a.fingerprint
            for a in alerts
            if a.rule_name in self.correlation_rules and a.fingerprint not in self._latest
        ]
        if not ask or self.repository is None:
            return alerts
        stored = self.repository.latest(ask)
        keep = []
        for alert in alerts:
            seen = stored.get(alert.fingerprint)
            if (
                seen is not None
                and alert.rule_name in self.correlation_rules
                and alert.first_seen <= seen[1]
            ):
                self.duplicates += 1
                continue
            keep.append(alert)
        return keep


class _DroppingShelf(MemoryShelf):
    """The run's alerts in memory, without their evidence, from which the gate lets old
    ones go. The gate only folds counts and times into them (a repeat's evidence goes to
    the store with it, and the alerts handed on carry theirs): an alert kept for an hour
    of throttle costs its identity, not its events."""

    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:
        super().put(replace(alert, evidence=()) if alert.evidence else alert, encoded)

    def drop(self, alert_id: str) -> None:
        self._alerts.pop(alert_id, None)
