"""The live gate: alerts of re-read lines are dropped; a correlation alert already
stored for the same episode is dropped; a later episode goes through."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from tests.alerts.factories import T0, alert
from vigil.alerts.model import Evidence
from vigil.clock import FixedClock
from vigil.live.gate import LiveGate
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB


def gate(tmp_path: Path) -> tuple[LiveGate, AlertRepository]:
    repo = AlertRepository(StateDB(tmp_path / "vigil.db"))
    g = LiveGate(
        FixedClock(T0 + timedelta(days=1)),
        correlation_rules={"ssh_bruteforce"},
        repository=repo,
        throttle=timedelta(hours=1),
    )
    return g, repo


def stored(repo: AlertRepository) -> int:
    return int(repo.db.conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])


def test_replaying_drops_and_counts(tmp_path: Path) -> None:
    """While lines are re-read, nothing passes and nothing is stored."""
    g, repo = gate(tmp_path)
    g.replaying = True
    assert g.admit([alert()]).raised == []
    assert (g.replayed, stored(repo), g.take_raised()) == (1, 0, [])


def test_stored_episode_is_not_raised_again(tmp_path: Path) -> None:
    """A correlation alert starting before the stored alert of its fingerprint ends is
    that episode again (a restart): dropped, the stored row untouched."""
    first, repo = gate(tmp_path)
    first.admit([alert(span=timedelta(minutes=5))])
    again, _ = gate(tmp_path)
    assert again.admit([alert(at=timedelta(minutes=2))]).raised == []
    assert again.duplicates == 1
    assert repo.db.conn.execute("SELECT count, repeats FROM alerts").fetchall() == [(5, 0)]


def test_later_episode_and_other_rules_pass(tmp_path: Path) -> None:
    """A later episode of the same rule and entity is a repeat folded into the stored
    alert; a single-event rule is never checked this way."""
    first, repo = gate(tmp_path)
    first.admit([alert(), alert(rule="web_sqli")])
    again, _ = gate(tmp_path)
    out = again.admit([alert(at=timedelta(minutes=20)), alert(rule="web_sqli")])
    assert len(out.raised) == 2 and again.duplicates == 0
    assert len(again.take_raised()) == 2 and again.take_raised() == []
    assert stored(repo) == 2


def test_prune_forgets_old_alerts_without_changing_decisions(tmp_path: Path) -> None:
    """Alerts older than the throttle leave memory; a repeat of one is still folded into
    its stored row (found by fingerprint), and a recent one stays in memory."""
    g, repo = gate(tmp_path)
    g.admit([alert(), alert(at=timedelta(hours=23), **{"source.ip": "198.51.100.9"})])
    assert g.prune() == 1
    assert len(g.alerts) == 1
    g.admit([alert(at=timedelta(minutes=30))])
    assert repo.db.conn.execute(
        "SELECT count, repeats FROM alerts WHERE entity LIKE '%203.0.113.7%'"
    ).fetchall() == [(10, 1)]


def test_memory_keeps_alerts_without_their_evidence(tmp_path: Path) -> None:
    """The gate's memory holds an alert's identity only; the stored row and the alerts
    handed on keep their evidence."""
    g, repo = gate(tmp_path)
    proof = (Evidence(T0, "/var/log/auth.log", 7, "Failed password"),)
    (raised,) = g.admit([replace(alert(), evidence=proof)]).raised
    assert raised.evidence == proof
    assert g.alerts[raised.id].evidence == ()
    (stored,) = repo.db.conn.execute("SELECT evidence FROM alerts").fetchone()
    assert json.loads(stored)[0]["log.file.line"] == 7
