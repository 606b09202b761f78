"""`vigil run` and `vigil status` on the command line: refusals at start, and the status
of a monitor that ran, stopped, or vanished."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tests.live.support import attack_log, checkpoint_line, config, running, wait_for, write
from vigil.cli.main import app
from vigil.errors import ExitCode
from vigil.live.checkpoints import CheckpointStore
from vigil.store.db import StateDB

runner = CliRunner()


def test_run_without_sources_is_a_usage_error(tmp_path: Path) -> None:
    """A configuration without sources has nothing to follow: exit 2, said why."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("timezone: UTC\n")
    result = runner.invoke(app, ["run", "-c", str(cfg)])
    assert result.exit_code == ExitCode.USAGE
    assert "nothing to follow" in result.output


def test_run_with_an_invalid_live_setting_is_located(tmp_path: Path) -> None:
    """An invalid live: setting stops vigil before it starts, with file and line."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        "sources:\n  auth: {type: file, paths: [/var/log/auth.log]}\nlive:\n  batch_ms: 0\n"
    )
    result = runner.invoke(app, ["run", "-c", str(cfg)])
    assert result.exit_code == ExitCode.CONFIG
    assert "live.batch_ms" in result.output and "vigil.yaml:4" in result.output


def test_status_without_a_state_database(tmp_path: Path) -> None:
    """No state database: exit 2 naming the directory."""
    result = runner.invoke(app, ["--state-dir", str(tmp_path / "none"), "status"])
    assert result.exit_code == ExitCode.USAGE
    assert "no state database" in result.output


def test_status_of_a_monitor_that_ran_and_stopped(tmp_path: Path) -> None:
    """After a run: stopped, its source with lines, events and rejects (the parser's
    too), the file's checkpoint, the alerts; as a table and as JSON."""
    log, state = tmp_path / "auth.log", tmp_path / "var"
    write(log, [*attack_log(500, 2), "not a log line"])
    sources = {"auth": {"type": "file", "paths": [str(log)], "start_at": "beginning"}}
    cfg = config(tmp_path / "vigil.yaml", sources)
    with running(cfg, state):
        wait_for(lambda: checkpoint_line(state / "vigil.db") == 502)
    result = runner.invoke(app, ["--state-dir", str(state), "status", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["state"] == "stopped" and doc["mode"] == "dry-run"
    (source,) = doc["sources"]
    got = (source["name"], source["kind"], source["lines"], source["events"], source["rejected"])
    assert got == ("auth", "file", 501, 500, 1)
    assert [(c["path"], c["line"]) for c in doc["checkpoints"]] == [(str(log), 502)]
    assert {a["rule_name"] for a in doc["recent_alerts"]} >= {"ssh_bruteforce"}
    table = runner.invoke(app, ["--state-dir", str(state), "status"])
    assert table.exit_code == 0
    assert "vigil run: stopped" in table.output and "ssh_bruteforce" in table.output


def test_status_of_a_monitor_that_vanished(tmp_path: Path) -> None:
    """A status that says running, written by a process that no longer exists: gone."""
    state = tmp_path / "var"
    store = CheckpointStore(StateDB.in_state_dir(state))
    dead = subprocess.Popen(["true"])
    dead.wait()
    doc = {"pid": dead.pid, "state": "running", "started_at": "x", "mode": "dry-run"}
    store.put_state(None, "status", json.dumps(doc), datetime.now(UTC))
    result = runner.invoke(app, ["--state-dir", str(state), "status", "--json"])
    assert json.loads(result.stdout)["state"] == "gone (killed or crashed)"
