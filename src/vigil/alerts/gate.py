"""The gate every alert passes before anyone sees it: suppressions, then dedup/throttle.

Throttling works on event time, so a replay of last month behaves as the live run did:
an alert whose fingerprint (rule + entity) already produced an alert whose last event is
less than `throttle` before this alert's first event is a *repeat*: it is folded into the
earlier alert (count added, last_seen extended) instead of raising a new one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vigil.alerts.model import Alert
from vigil.alerts.suppress import Suppression, first_match
from vigil.clock import Clock
from vigil.store.alerts import AlertRepository

DEFAULT_THROTTLE = timedelta(hours=1)


@dataclass
class GateOutcome:
    raised: list[Alert] = field(default_factory=list)
    repeats: list[Alert] = field(default_factory=list)
    suppressed: Counter[str] = field(default_factory=Counter)


class AlertGate:
    def __init__(
        self,
        clock: Clock,
        *,
        throttle: timedelta = DEFAULT_THROTTLE,
        suppressions: list[Suppression] | None = None,
        repository: AlertRepository | None = None,
    ) -> None:
        self.clock = clock
        self.throttle = throttle
        self.suppressions = suppressions or []
        self.repository = repository
        # fingerprint → (alert id, last_seen) of the newest alert raised, for runs without a store
        self._recent: dict[str, tuple[str, datetime]] = {}

    def admit(self, alerts: list[Alert]) -> GateOutcome:
        out = GateOutcome()
        now = self.clock.now()
        for alert in sorted(alerts, key=lambda a: a.first_seen):
            rule = first_match(self.suppressions, alert, now)
            if rule is not None:
                out.suppressed[rule.describe()] += 1
                continue
            previous = self._previous(alert.fingerprint)
            if previous is not None and alert.first_seen - previous[1] < self.throttle:
                out.repeats.append(alert)
                self._recent[alert.fingerprint] = (previous[0], max(previous[1], alert.last_seen))
                if self.repository is not None:
                    self.repository.merge(previous[0], alert, now)
                continue
            out.raised.append(alert)
            self._recent[alert.fingerprint] = (alert.id, alert.last_seen)
            if self.repository is not None:
                self.repository.insert(alert, now)
        return out

    def _previous(self, fingerprint: str) -> tuple[str, datetime] | None:
        if fingerprint in self._recent:
            return self._recent[fingerprint]
        if self.repository is not None:
            return self.repository.latest(fingerprint)
        return None
