"""The detection stage inside the analyze pipeline: rules, correlations and the gate."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from vigil.alerts.gate import AlertGate
from vigil.clock import FixedClock
from vigil.detect.rulepack import load_pack
from vigil.detect.stage import DetectionStage
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB

RULES = Path(__file__).parents[1] / "data" / "cli" / "brute_test_rules.yml"
WEB_RULE = """\
title: Web 404 burst (test)
name: web_404_test
id: 3c1f0f0e-9a9b-4c37-8d2e-000000000003
logsource: {category: webserver}
detection:
  sel: {sc-status: 404}
  condition: sel
level: low
---
title: Many 404s (test)
name: web_404_burst_test
id: 3c1f0f0e-9a9b-4c37-8d2e-000000000004
correlation:
  type: event_count
  rules: [web_404_test]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 3}
level: medium
"""


def _stage(tmp_path: Path, clock: FixedClock) -> DetectionStage:
    web = tmp_path / "web.yml"
    web.write_text(WEB_RULE)
    pack = load_pack([RULES, web], include_default=False)
    return DetectionStage(pack, AlertGate(clock), clock)


def _logs(tmp_path: Path) -> list[str]:
    auth = tmp_path / "auth.log"
    auth.write_text(
        "".join(
            f"Nov 22 10:0{i}:00 bastion sshd[1{i}]: Failed password for root from 203.0.113.9"
            f" port 40{i}0 ssh2\n"
            for i in range(5)
        )
    )
    web = tmp_path / "access.log"
    web.write_text(
        "".join(
            f'198.51.100.4 - - [22/Nov/2026:09:00:0{i} +0000] "GET /x{i} HTTP/1.1" 404 10'
            ' "-" "curl"\n'
            for i in range(3)
        )
    )
    return [str(auth), str(web)]


def test_logs_of_the_same_hours_read_one_after_the_other_both_alert(tmp_path: Path) -> None:
    """An access log older than the auth log read before it is not late for the web rules."""
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    stage = _stage(tmp_path, clock)
    analyze(_logs(tmp_path), AnalyzeOptions(year=2026, clock=clock), sinks=[stage])
    assert sorted((a.rule_name, a.count) for a in stage.alerts) == [
        ("ssh_bruteforce_test", 5),
        ("web_404_burst_test", 3),
    ]
    assert stage.summary()["late_events"] == {}


def test_a_replay_of_events_dated_after_the_clock_still_alerts(tmp_path: Path) -> None:
    """Files are history: events later than "now" (clock or zone skew) are still counted."""
    clock = FixedClock(datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    stage = _stage(tmp_path, clock)
    analyze(_logs(tmp_path)[:1], AnalyzeOptions(year=2026, clock=clock), sinks=[stage])
    assert [a.count for a in stage.alerts] == [5]


def test_base_rules_of_a_correlation_stay_quiet(tmp_path: Path) -> None:
    """Rules a correlation uses (generate: false) raise no alerts of their own."""
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    stage = _stage(tmp_path, clock)
    analyze(_logs(tmp_path), AnalyzeOptions(year=2026, clock=clock), sinks=[stage])
    assert {a.rule_name for a in stage.alerts} == {"ssh_bruteforce_test", "web_404_burst_test"}
    assert stage.matched  # the base rules did match


def test_disabling_a_correlation_keeps_its_base_rules_quiet(tmp_path: Path) -> None:
    """With the brute-force correlation disabled, failed logins do not each become alerts."""
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    pack = load_pack([RULES], include_default=False, disabled=["ssh_bruteforce_test"])
    stage = DetectionStage(pack, AlertGate(clock), clock)
    analyze(_logs(tmp_path)[:1], AnalyzeOptions(year=2026, clock=clock), sinks=[stage])
    assert stage.alerts == []
    assert pack.disabled == ["ssh_bruteforce_test"]


def test_closing_the_stage_waits_for_a_store_written_in_the_background(tmp_path: Path) -> None:
    """When the input is over, every alert is in the state database, not only in flight."""
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    db = StateDB(tmp_path / "vigil.db")
    gate = AlertGate(clock, repository=AlertRepository(db, background=True))
    stage = DetectionStage(load_pack([RULES], include_default=False), gate, clock)
    analyze(_logs(tmp_path)[:1], AnalyzeOptions(year=2026, clock=clock), sinks=[stage])
    assert not [t for t in threading.enumerate() if t.name == "vigil-alert-writer"]
    assert [(r["rule_name"], r["count"]) for r in AlertRepository(db).recent()] == [
        ("ssh_bruteforce_test", 5)
    ]
    db.close()
