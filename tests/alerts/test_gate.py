"""The alert gate: suppression, dedup and throttling on event time, with a real SQLite store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.alerts.factories import T0, alert
from vigil.alerts.gate import AlertGate
from vigil.alerts.suppress import Suppression
from vigil.clock import FixedClock
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB


def test_repeat_within_throttle_is_folded_in() -> None:
    """A second alert of the same rule and entity inside the throttle window is a repeat."""
    gate = AlertGate(FixedClock(T0), throttle=timedelta(hours=1))
    first = gate.admit([alert()])
    again = gate.admit([alert(at=timedelta(minutes=30))])
    later = gate.admit([alert(at=timedelta(hours=3))])
    assert len(first.raised) == 1
    assert (len(again.raised), len(again.repeats)) == (0, 1)
    assert len(later.raised) == 1


def test_other_entity_is_not_a_repeat() -> None:
    """Alerts about different entities are each raised."""
    gate = AlertGate(FixedClock(T0))
    out = gate.admit([alert(**{"source.ip": "203.0.113.7"}), alert(**{"source.ip": "203.0.113.8"})])
    assert len(out.raised) == 2


def test_suppressed_alerts_are_counted_not_lost() -> None:
    """A suppressed alert is not raised, and the suppression that took it is counted."""
    s = Suppression(rule="ssh_*", match={"source.ip": "203.0.113.0/24"}, reason="our scanner")
    out = AlertGate(FixedClock(T0), suppressions=[s]).admit([alert(), alert(rule="port_scan")])
    assert [a.rule_name for a in out.raised] == ["port_scan"]
    assert out.suppressed == {s.describe(): 1}


def test_repeats_fold_into_the_runs_alert() -> None:
    """The run keeps one alert per episode: a repeat adds its count and extends it."""
    gate = AlertGate(FixedClock(T0))
    gate.admit([alert(count=5)])
    gate.admit([alert(at=timedelta(minutes=10), count=3)])
    (only,) = gate.alerts.values()
    assert (only.count, only.last_seen, gate.repeats) == (8, T0 + timedelta(minutes=11), 1)


def test_store_keeps_one_row_per_episode_across_runs(tmp_path: Path) -> None:
    """A later run's alert continuing a stored one merges into it and is reported as known."""
    db = StateDB(tmp_path / "vigil.db")
    repo = AlertRepository(db)
    first = AlertGate(FixedClock(T0), repository=repo)
    first.admit([alert(count=5)])
    second_run = AlertGate(FixedClock(T0), repository=repo)
    out = second_run.admit([alert(at=timedelta(minutes=10), count=3)])
    (shown,) = out.raised
    assert shown.id in second_run.known
    assert shown.id == next(iter(first.alerts))
    (row,) = repo.recent()
    assert (row["count"], row["repeats"]) == (8, 1)
    assert row["entity"] == {"source.ip": "203.0.113.7"}
    assert row["last_seen"] == (T0 + timedelta(minutes=11)).isoformat()
    db.close()
