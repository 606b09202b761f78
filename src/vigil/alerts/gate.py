"""The gate every alert passes before anyone sees it: suppressions, then dedup/throttle.

Throttling works on event time, so a replay of last month behaves as the live run did:
an alert whose fingerprint (rule + entity) already produced an alert whose last event is
less than `throttle` before this alert's first event is a *repeat*: it is folded into the
earlier alert (count added, last_seen extended, evidence topped up) instead of raising a
new one. The earlier alert may be one of this run, or one stored by an earlier run (then
this run reports it as *known* under the stored alert's id).

The run's alerts are kept on a shelf (`alerts.shelf`): in memory, or as JSON text in a
temporary file when a run may raise more alerts than memory should hold; each admitted
alert is then encoded once, for the shelf and the store alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter

from vigil.alerts.documents import EncodedAlert, encode
from vigil.alerts.model import MAX_EVIDENCE, Alert
from vigil.alerts.shelf import AlertShelf, MemoryShelf
from vigil.alerts.suppress import Suppression, first_match
from vigil.clock import Clock
from vigil.store.alerts import AlertRepository

DEFAULT_THROTTLE = timedelta(hours=1)
_FIRST_SEEN = attrgetter("first_seen")


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
        max_evidence: int = MAX_EVIDENCE,
        shelf: AlertShelf | None = None,
    ) -> None:
        self.clock = clock
        self.throttle = throttle
        self.suppressions = suppressions or []
        self.repository = repository
        self.max_evidence = max_evidence
        # The alerts of this run, one per episode, repeats folded in; by id.
        self.alerts: AlertShelf = shelf if shelf is not None else MemoryShelf()
        # Ids of this run's alerts that continue an alert stored by an earlier run.
        self.known: set[str] = set()
        self.suppressed: Counter[str] = Counter()
        self.repeats = 0
        # fingerprint → (id, last_seen) of this run's newest alert with it
        self._latest: dict[str, tuple[str, datetime]] = {}

    def admit(self, alerts: list[Alert]) -> GateOutcome:
        out = GateOutcome()
        now = self.clock.now()
        inserts: list[Alert] = []
        merges: list[tuple[str, Alert]] = []
        encoded: dict[str, EncodedAlert] = {}
        unseen = [a.fingerprint for a in alerts if a.fingerprint not in self._latest]
        stored_by_fp = self.repository.latest(unseen) if self.repository and unseen else {}
        for incoming in sorted(alerts, key=_FIRST_SEEN):
            alert = incoming
            rule = first_match(self.suppressions, alert, now)
            if rule is not None:
                out.suppressed[rule.describe()] += 1
                self.suppressed[rule.describe()] += 1
                continue
            latest = self._latest.get(alert.fingerprint)
            if latest is not None and alert.first_seen - latest[1] < self.throttle:
                folded = self._fold(self.alerts[latest[0]], alert)
                self.alerts.put(folded)
                self._latest[alert.fingerprint] = (folded.id, folded.last_seen)
                merges.append((folded.id, alert))
                out.repeats.append(alert)
                self.repeats += 1
                continue
            stored = stored_by_fp.get(alert.fingerprint)
            if stored is not None and alert.first_seen - stored[1] < self.throttle:
                alert = replace(alert, id=stored[0])
                self.known.add(alert.id)
                merges.append((alert.id, alert))
            else:
                inserts.append(alert)
            if self.alerts.spills or self.repository is not None:
                encoded[alert.id] = encode(alert)
            self.alerts.put(alert, encoded.get(alert.id))
            self._latest[alert.fingerprint] = (alert.id, alert.last_seen)
            out.raised.append(alert)
        if self.repository is not None:
            self.repository.write(inserts, merges, now, encoded)
        return out

    def flush(self) -> None:
        """Return once the store holds every alert admitted (a repository writing in the
        background lags behind `admit`)."""
        if self.repository is not None:
            self.repository.flush()

    def _fold(self, mine: Alert, repeat: Alert) -> Alert:
        room = max(self.max_evidence - len(mine.evidence), 0)
        return replace(
            mine,
            count=mine.count + repeat.count,
            last_seen=max(mine.last_seen, repeat.last_seen),
            evidence=(*mine.evidence, *repeat.evidence[:room]),
        )
