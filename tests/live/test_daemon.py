"""The live monitor in-process: follows files as they grow and rotate, detects on the
way, answers /metrics and /healthz, reloads its configuration, stops cleanly."""

from __future__ import annotations

import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.live.support import (
    attack,
    attack_log,
    attacker,
    brute_force_rows,
    checkpoint_line,
    config,
    duplicates,
    query,
    running,
    wait_for,
    write,
)
from tests.notify.receivers import http_receiver
from vigil.respond.engine import ResponseEngine


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "var"


def auth_source(log: Path, **kw: Any) -> dict[str, Any]:
    return {"auth": {"type": "file", "paths": [str(log)], "poll_interval": 0.02, **kw}}


def test_follows_appends_and_detects_as_lines_come(tmp_path: Path, state: Path) -> None:
    """With start_at end, the attack already in the file is history; one appended while
    running is detected, stored once and planned for a block; the checkpoint follows."""
    log = tmp_path / "auth.log"
    write(log, attack_log(200, 1))
    cfg = config(tmp_path / "vigil.yaml", auth_source(log, start_at="end"))
    db = state / "vigil.db"
    with running(cfg, state) as r:
        wait_for(r.caught_up)
        write(log, attack(attacker(9)), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(9)]
        wait_for(lambda: query(db, "SELECT state FROM actions"))
        assert query(db, "SELECT target, state FROM actions") == [(attacker(9), "planned")]
        wait_for(lambda: checkpoint_line(db) == 207)
        assert r.counter("vigil_lines_total", source="auth") == 6


@pytest.mark.parametrize("how", ["rename", "copytruncate"])
def test_rotation_in_the_middle_of_an_attack(tmp_path: Path, state: Path, how: str) -> None:
    """An attack whose failures straddle a rotation (rename + create, or copytruncate)
    is detected once, and every line is read exactly once."""
    log = tmp_path / "auth.log"
    write(log, attack_log(100, 0))
    cfg = config(tmp_path / "vigil.yaml", auth_source(log, start_at="beginning", rotate_wait=1))
    db = state / "vigil.db"
    with running(cfg, state) as r:
        wait_for(lambda: checkpoint_line(db) == 101)
        write(log, attack(attacker(3), 3), "a")
        if how == "rename":
            os.rename(log, tmp_path / "auth.log.1")
        else:
            shutil.copyfile(log, tmp_path / "auth.log.1")
            with log.open("r+") as f:
                f.truncate(0)
        write(log, attack(attacker(3), 3), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(3)]
        wait_for(lambda: r.counter("vigil_lines_total", source="auth") == 106)
        evidence = query(db, "SELECT evidence FROM alerts WHERE rule_name = 'ssh_bruteforce'")
        lines = [(e["log.file.path"], e["log.file.line"]) for e in json.loads(evidence[0][0])]
        assert len(lines) == len(set(lines)) == 6
    assert duplicates(db) == []


def test_metrics_and_healthz_answer(tmp_path: Path, state: Path) -> None:
    """/metrics serves the Prometheus text with the pipeline's counters; /healthz says
    ok; other paths are 404."""
    log = tmp_path / "auth.log"
    write(log, attack_log(300, 2))
    sources = auth_source(log, start_at="beginning")
    cfg = config(tmp_path / "vigil.yaml", sources, metrics="127.0.0.1:0")
    with running(cfg, state) as r:
        wait_for(lambda: r.counter("vigil_alerts_total", rule="ssh_bruteforce") == 2)
        text = r.metrics()
        assert 'vigil_lines_total{source="auth"} 300' in text
        assert 'vigil_events_total{source="auth"} 300' in text
        assert 'vigil_alerts_total{rule="ssh_bruteforce"} 2' in text
        assert "# TYPE vigil_batch_seconds histogram" in text
        assert 'vigil_source_lag_seconds{source="auth"}' in text
        assert r.daemon is not None and r.daemon.server is not None
        host, port = r.daemon.server.address
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://{host}:{port}/other", timeout=5)


def test_reload_applies_a_valid_config_and_refuses_a_broken_one(
    tmp_path: Path, state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP's reload: a broken file is reported and the running configuration goes
    on; a valid one (here: a second source) takes over where the old one stopped."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    write(first, attack_log(50, 0))
    write(second, attack_log(50, 0))
    cfg = config(tmp_path / "vigil.yaml", auth_source(first, start_at="beginning"))
    db = state / "vigil.db"
    with running(cfg, state) as r:
        wait_for(lambda: checkpoint_line(db) == 51)
        good = cfg.read_text()
        cfg.write_text(good + "\nlive: {batch_lines: -3}\n")
        r.flags.reload.set()
        wait_for(lambda: "reload refused" in caplog.text)
        config(
            cfg,
            {
                **auth_source(first, start_at="beginning"),
                "web": {"type": "file", "paths": [str(second)], "start_at": "beginning"},
            },
        )
        r.flags.reload.set()
        wait_for(lambda: len(query(db, "SELECT path FROM checkpoints")) == 2)
        write(first, attack(attacker(5)), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(5)]
        # Lines re-read to rebuild windows are counted apart; none was read twice else.
        read = r.counter("vigil_lines_total", source="auth")
        assert read - r.counter("vigil_replayed_lines_total", source="auth") == 56
        assert r.counter("vigil_lines_total", source="web") == 50


def test_alerts_are_notified_beside_the_pipeline(tmp_path: Path, state: Path) -> None:
    """A configured channel gets the alert: queued in the batch's transaction, sent from
    the outbox by the delivery thread."""
    log = tmp_path / "auth.log"
    write(log, attack_log(100, 0))
    with http_receiver() as hook:
        cfg = config(tmp_path / "vigil.yaml", auth_source(log, start_at="beginning"))
        text = cfg.read_text()
        channels = {"channels": {"hook": {"url": f"json://127.0.0.1:{hook.port}/hook"}}}
        cfg.write_text(text + yaml.safe_dump({"notify": channels}))
        with running(cfg, state) as r:
            wait_for(r.caught_up)
            write(log, attack(attacker(11)), "a")
            (posted,) = hook.wait(1)
        assert attacker(11) in posted.json()["message"]
    assert query(state / "vigil.db", "SELECT state FROM outbox") == [("sent",)]


def test_syslog_datagrams_go_through_the_same_pipeline(tmp_path: Path, state: Path) -> None:
    """A network source feeds the same batches: sshd lines sent as syslog datagrams raise
    the brute-force alert, with the peer as their origin."""
    relay = {"type": "syslog", "protocol": "udp", "listen": "127.0.0.1:0", "format": "sshd"}
    cfg = config(tmp_path / "vigil.yaml", {"relay": relay})
    db = state / "vigil.db"
    with running(cfg, state) as r:
        assert r.daemon is not None and r.daemon.gen is not None
        source = r.daemon.gen.sources["relay"]
        address = source.address  # type: ignore[attr-defined]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for line in attack(attacker(12)):
                sock.sendto(f"<38>{line}".encode(), address)
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(12)]
        evidence = query(db, "SELECT evidence FROM alerts WHERE rule_name = 'ssh_bruteforce'")
        assert json.loads(evidence[0][0])[0]["log.file.path"].startswith("udp://127.0.0.1:")


def test_a_fault_answering_alerts_is_logged_and_the_alert_kept(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response engine failing on an alert does not stop the monitor: the alert is
    stored, the fault counted, and the next lines are still read."""

    def broken(self: ResponseEngine, alerts: object) -> object:
        raise RuntimeError("responder bug")

    monkeypatch.setattr(ResponseEngine, "respond", broken)
    log = tmp_path / "auth.log"
    write(log, attack_log(10, 0))
    cfg = config(tmp_path / "vigil.yaml", auth_source(log, start_at="beginning"))
    db = state / "vigil.db"
    with running(cfg, state) as r:
        write(log, attack(attacker(13)), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(13)]
        assert r.counter("vigil_answer_errors_total", stage="respond") == 1
        write(log, attack(attacker(14)), "a")
        assert wait_for(lambda: len(brute_force_rows(db)) == 2)


def test_the_timer_expires_actions_when_no_line_comes(tmp_path: Path, state: Path) -> None:
    """An action's TTL runs out while the log is quiet: the timer expires it."""
    log = tmp_path / "auth.log"
    write(log, attack_log(10, 0))
    cfg = config(tmp_path / "vigil.yaml", auth_source(log, start_at="beginning"))
    rule = {"match": {"rule": "ssh_bruteforce"}, "responder": "nftables", "ttl": 1}
    cfg.write_text(cfg.read_text() + yaml.safe_dump({"respond": {"rules": [rule]}}))
    db = state / "vigil.db"
    with running(cfg, state):
        write(log, attack(attacker(15)), "a")
        assert wait_for(lambda: query(db, "SELECT state FROM actions")) == [("planned",)]
        assert wait_for(lambda: query(db, "SELECT state FROM actions") == [("expired",)])
