"""The response commands as an operator runs them: analyze --respond/--apply, ban,
unban, bans, actions list/approve/revert/reconcile and audit, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.respond.recording import RecordingResponder, install
from vigil.cli.main import app
from vigil.errors import ExitCode

runner = CliRunner()

CONFIG = """\
respond:
  rules:
    - match: {rule: firewall_connection_flood}
      responder: fw
      ttl: 2h
    - match: {rule: firewall_deny_burst}
      responder: fw
      approval: true
responders:
  fw: {type: recording%s}
"""


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingResponder]:
    return install(monkeypatch)


def flood_log(tmp_path: Path) -> Path:
    """120 connections in a minute from 203.0.113.7 and 5 from 203.0.113.8."""
    row = "2026-11-22 10:00:{:02d} | 203.0.113.7 | 198.51.100.10 | TCP | ALLOW | {} | 22"
    lines = [row.format(i // 2, 40000 + i) for i in range(120)]
    lines += [
        f"2026-11-22 10:01:0{i} | 203.0.113.8 | 198.51.100.10 | TCP | ALLOW | 41000 | 22"
        for i in range(5)
    ]
    path = tmp_path / "fw.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path: Path, settings: str = "") -> list[str]:
    path = tmp_path / "vigil.yaml"
    path.write_text(CONFIG % settings)
    return ["--config", str(path)]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_analyze_respond_default_policy_plans(tmp_path: Path) -> None:
    """Without a config, --respond plans a one-hour nftables block of the flood source;
    a second identical run changes nothing."""
    log = str(flood_log(tmp_path))
    doc = as_json(invoke("analyze", "--json", "--respond", log))
    [action] = doc["actions"]
    assert {k: action[k] for k in ("responder", "target", "ttl", "state", "rule_name")} == {
        "responder": "nftables",
        "target": "203.0.113.7",
        "ttl": 3600,
        "state": "planned",
        "rule_name": "firewall_connection_flood",
    }
    audit = as_json(invoke("audit", "--json"))
    again = as_json(invoke("analyze", "--json", "--respond", log))
    assert again["actions"] == doc["actions"]
    assert as_json(invoke("audit", "--json")) == audit


def test_analyze_without_respond_has_no_actions(tmp_path: Path) -> None:
    """Plain analyze neither plans nor lists actions."""
    doc = as_json(invoke("analyze", "--json", str(flood_log(tmp_path))))
    assert "actions" not in doc
    assert as_json(invoke("actions", "list", "--json")) == []


def test_analyze_apply_enforces(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """--apply runs the responder; the human summary shows the actions table."""
    result = invoke(*config(tmp_path), "analyze", "--apply", str(flood_log(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "Actions (1)" in result.stdout and "applied" in result.stdout
    assert recording.calls == [("act", "203.0.113.7")]


def test_failed_action_exits_69_after_the_report(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A responder failing every attempt: the JSON still lists it failed, exit 69 with
    one error line."""
    args = config(tmp_path, ", fail: 3")
    result = invoke(*args, "analyze", "--json", "--apply", str(flood_log(tmp_path)))
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert json.loads(result.stdout)["actions"][0]["state"] == "failed"
    assert result.stderr.strip() == (
        "error: 1 action(s) failed: 203.0.113.7 on fw: backend down (act 203.0.113.7)"
    )


@pytest.mark.parametrize("value", ["; rm -rf /", "$(id)", "1.2.3.4 -j ACCEPT", "10.0.0.0/8"])
def test_hostile_manual_ban_is_refused(
    tmp_path: Path, recording: type[RecordingResponder], value: str
) -> None:
    """A manual ban of hostile text is refused with exit 65, audited, and nothing runs."""
    result = invoke(*config(tmp_path), "ban", value, "--apply")
    assert result.exit_code == ExitCode.DATA_ERROR
    assert result.stderr.startswith("error: ")
    [entry] = as_json(invoke("audit", "--json"))
    assert entry["event"] == "refused" and entry["actor"].startswith("operator:")
    assert recording.calls == []


def test_ban_bans_unban(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """ban --apply blocks for its TTL, bans lists it, unban lifts it."""
    args = config(tmp_path)
    banned = as_json(
        invoke(*args, "ban", "2001:db8::9", "--ttl", "10m", "--reason", "seen", "--apply", "--json")
    )
    assert (banned["state"], banned["ttl"], banned["reason"]) == ("applied", 600, "seen")
    assert [b["target"] for b in as_json(invoke(*args, "bans", "--json"))] == ["2001:db8::9"]
    [lifted] = as_json(invoke(*args, "unban", "2001:db8::9", "--json"))
    assert lifted["state"] == "reverted"
    assert as_json(invoke(*args, "bans", "--json")) == []
    assert recording.held == {}


def test_ban_ttl_must_be_a_duration(tmp_path: Path) -> None:
    """A bad --ttl is a usage error (exit 2)."""
    result = invoke("ban", "203.0.113.7", "--ttl", "soon")
    assert result.exit_code == ExitCode.USAGE
    assert "--ttl: not a duration: 'soon'" in result.stderr


def test_approve_and_revert(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """A rule with approval leaves the action pending until `actions approve`; `actions
    revert` undoes it."""
    lines = [
        f"2026-11-22 10:00:{i:02d} | 203.0.113.20 | 198.51.100.{i} | TCP | DENY | 4000 | 22"
        for i in range(30)
    ]
    log = tmp_path / "deny.log"
    log.write_text("\n".join(lines) + "\n")
    args = config(tmp_path)
    [pending] = as_json(invoke(*args, "analyze", "--json", "--apply", str(log)))["actions"]
    assert pending["state"] == "pending" and recording.calls == []
    listed = as_json(invoke(*args, "actions", "list", "--state", "pending", "--json"))
    assert [a["id"] for a in listed] == [pending["id"]]
    approved = as_json(invoke(*args, "actions", "approve", pending["id"], "--apply", "--json"))
    assert approved["state"] == "applied"
    reverted = as_json(invoke(*args, "actions", "revert", pending["id"], "--json"))
    assert reverted["state"] == "reverted"
    assert recording.calls == [("act", "203.0.113.20"), ("revert", "203.0.113.20")]
    again = invoke(*args, "actions", "revert", pending["id"])
    assert again.exit_code == ExitCode.USAGE and "nothing to revert" in again.stderr


def test_unknown_state_and_id_are_usage_errors(tmp_path: Path) -> None:
    """A state that does not exist, or an unknown id, is exit 2 with the reason."""
    assert "is not one of" in invoke("actions", "list", "--state", "gone").stderr
    assert invoke("actions", "approve", "nope").exit_code == ExitCode.USAGE


def test_reconcile_needs_apply(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """reconcile changes firewalls, so it refuses to run in dry-run; with --apply it
    re-applies what the backend lost."""
    args = config(tmp_path)
    refused = invoke(*args, "actions", "reconcile")
    assert refused.exit_code == ExitCode.USAGE
    invoke(*args, "ban", "203.0.113.30", "--apply")
    recording.held.clear()
    drift = as_json(invoke(*args, "actions", "reconcile", "--apply", "--json"))
    assert drift == [
        {
            "responder": "fw",
            "target": "203.0.113.30",
            "kind": "missing",
            "fixed": True,
            "error": None,
        }
    ]


def test_audit_table_and_limit(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """audit shows the newest N entries; the table names actor and event."""
    args = config(tmp_path)
    for n in (1, 2, 3):
        invoke(*args, "ban", f"203.0.113.{n}")
    assert [e["target"] for e in as_json(invoke(*args, "audit", "--json", "--limit", "2"))] == [
        "203.0.113.2",
        "203.0.113.3",
    ]
    table = invoke(*args, "audit")
    assert table.exit_code == 0 and "planned" in table.stdout and "operator:" in table.stdout
