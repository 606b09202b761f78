"""`vigil analyze` with rules, and `vigil rules list|check|test`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.errors import ExitCode

DATA = Path(__file__).parents[1] / "data" / "cli"
RULES = str(DATA / "brute_test_rules.yml")
ATTACKER = "203.0.113.9"
runner = CliRunner()


def _auth_log(tmp_path: Path, attempts: int) -> Path:
    lines = [
        f"Nov 22 10:0{i}:00 bastion sshd[{100 + i}]: Failed password for root from {ATTACKER}"
        f" port {4000 + i} ssh2"
        for i in range(attempts)
    ]
    lines.append(
        "Nov 22 10:09:30 bastion sshd[200]: Accepted publickey for alice from 192.0.2.5"
        " port 5000 ssh2: ED25519 SHA256:abc"
    )
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def _analyze(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(
        app, ["analyze", "--json", "--year", "2026", "--no-default-rules", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_alerts_in_the_json_document(tmp_path: Path) -> None:
    """Five attempts in ten minutes raise one alert with the promised keys and evidence."""
    doc = _analyze("--rules", RULES, str(_auth_log(tmp_path, 5)))
    (alert,) = doc["alerts"]
    assert alert["rule_name"] == "ssh_bruteforce_test"
    assert alert["entity"] == {"source.ip": ATTACKER}
    assert (alert["count"], alert["level"], alert["new"]) == (5, "high", True)
    assert alert["first_seen"] == "2026-11-22T10:00:00Z"
    assert alert["last_seen"] == "2026-11-22T10:04:00Z"
    assert [e["log.file.line"] for e in alert["evidence"]] == [1, 2, 3, 4, 5]
    assert doc["detection"]["rules"] == 1
    assert doc["detection"]["correlations"] == 1


def test_four_attempts_raise_nothing(tmp_path: Path) -> None:
    """Below the threshold there is no alert (and the base rule stays quiet)."""
    assert _analyze("--rules", RULES, str(_auth_log(tmp_path, 4)))["alerts"] == []


def test_second_run_reports_the_stored_alert_as_known(tmp_path: Path) -> None:
    """The same attack analysed twice is one stored alert, reported as known the second time."""
    log = str(_auth_log(tmp_path, 5))
    first = _analyze("--rules", RULES, log)["alerts"][0]
    second = _analyze("--rules", RULES, log)["alerts"][0]
    assert second["id"] == first["id"]
    assert second["new"] is False


def test_threshold_override_in_config(tmp_path: Path) -> None:
    """rules.overrides changes a correlation's threshold without editing the rule."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("rules:\n  overrides:\n    ssh_bruteforce_test: {threshold: 4}\n")
    log = str(_auth_log(tmp_path, 4))
    result = runner.invoke(
        app,
        [
            "--config",
            str(cfg),
            "analyze",
            "--json",
            "--year",
            "2026",
            "--no-default-rules",
            "--rules",
            RULES,
            log,
        ],
    )
    assert [a["count"] for a in json.loads(result.stdout)["alerts"]] == [4]


def test_suppression_hides_and_counts(tmp_path: Path) -> None:
    """A matching suppression keeps the alert out and says so in the detection section."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"suppressions:\n  - {{rule: ssh_*, match: {{source.ip: {ATTACKER}}}, reason: pentest}}\n"
    )
    result = runner.invoke(
        app,
        [
            "--config",
            str(cfg),
            "analyze",
            "--json",
            "--year",
            "2026",
            "--no-default-rules",
            "--rules",
            RULES,
            str(_auth_log(tmp_path, 5)),
        ],
    )
    doc = json.loads(result.stdout)
    assert doc["alerts"] == []
    assert list(doc["detection"]["suppressed"].values()) == [1]


def test_broken_rule_file_stops_with_its_location(tmp_path: Path) -> None:
    """A rule file that does not load is an error naming the file and line (exit 78)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("title: x\ndetection: [unclosed\n")
    result = runner.invoke(app, ["analyze", "--rules", str(bad), str(_auth_log(tmp_path, 1))])
    assert result.exit_code == ExitCode.CONFIG
    assert "bad.yml:" in result.stderr


def test_rules_check(tmp_path: Path) -> None:
    """`rules check` counts what compiles by logsource and exits 1 on a broken file."""
    ok = runner.invoke(app, ["rules", "check", "--json", RULES])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["by_logsource"] == {"linux/sshd": 1}
    bad = tmp_path / "bad.yml"
    bad.write_text("title: x\ndetection: [unclosed\n")
    result = runner.invoke(app, ["rules", "check", RULES, str(bad)])
    assert result.exit_code == 1
    assert "bad.yml" in result.stdout


def test_rules_list_shows_thresholds() -> None:
    """`rules list` shows each rule and a correlation's threshold and window."""
    result = runner.invoke(app, ["rules", "list", "--json", "--no-default-rules", "--rules", RULES])
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["ssh_bruteforce_test"]["threshold"] == "event_count gte 5 in 10m"
    assert rows["ssh_failed_attempt"]["logsource"] == "linux/sshd"


def test_rules_test_shows_matches_and_alerts(tmp_path: Path) -> None:
    """`rules test` names the matching lines of the base rule and the alert's evidence."""
    result = runner.invoke(
        app,
        [
            "rules",
            "test",
            "--rules",
            RULES,
            "--year",
            "2026",
            "ssh_bruteforce_test",
            str(_auth_log(tmp_path, 5)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "matched 5 events" in result.stdout
    assert "1 alert(s)" in result.stdout
    assert f"auth.log:5  Failed password for root from {ATTACKER}" in result.stdout


def test_rules_test_reads_logs_as_analyze_does(tmp_path: Path) -> None:
    """The configuration's time zone applies to `rules test` as to `analyze` (10:00 in
    Berlin is 09:00 UTC), and a misspelt parser option is refused the same way."""
    config = tmp_path / "vigil.yaml"
    config.write_text("timezone: Europe/Berlin\n")
    log = str(_auth_log(tmp_path, 5))
    args = ["--config", str(config), "rules", "test", "--rules", RULES, "--year", "2026"]
    result = runner.invoke(app, [*args, "ssh_bruteforce_test", log])
    assert result.exit_code == 0, result.output
    assert "2026-11-22 09:00:00" in result.stdout and "09:04:00" in result.stdout
    typo = runner.invoke(app, [*args, "-o", "delimeter=;", "ssh_bruteforce_test", log])
    assert typo.exit_code == ExitCode.USAGE
    assert "unknown parser option 'delimeter'" in typo.stderr


def test_rules_test_names_a_log_it_cannot_read(tmp_path: Path) -> None:
    """A binary log is an error line and exit 65, after what the readable logs gave."""
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x00\x00" + bytes(range(256)))
    args = ["rules", "test", "--rules", RULES, "--year", "2026", "ssh_bruteforce_test"]
    result = runner.invoke(app, [*args, str(_auth_log(tmp_path, 5)), str(binary)])
    assert result.exit_code == ExitCode.DATA_ERROR
    assert "1 alert(s)" in result.stdout
    assert "core.bin looks binary" in result.stderr


def test_rules_test_unknown_rule(tmp_path: Path) -> None:
    """Naming a rule that is not loaded is a usage error listing what is."""
    result = runner.invoke(app, ["rules", "test", "--rules", RULES, "nope", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE
    assert "ssh_bruteforce_test" in result.stderr


def test_threshold_override_on_a_temporal_rule_is_refused(tmp_path: Path) -> None:
    """A temporal rule's 'threshold' is its list of rules: overriding it is a config error."""
    rules = tmp_path / "temporal.yml"
    rules.write_text(
        (DATA / "brute_test_rules.yml").read_text()
        + "---\ntitle: ok\nname: ssh_ok\nlogsource: {product: linux, service: sshd}\n"
        "detection: {sel: {event.outcome: success}, condition: sel}\n"
        "---\ntitle: then success\nname: then_success\ncorrelation:\n  type: temporal\n"
        "  rules: [ssh_failed_attempt, ssh_ok]\n  group-by: [source.ip]\n  timespan: 10m\n"
    )
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("rules:\n  overrides:\n    then_success: {threshold: 1}\n")
    result = runner.invoke(
        app, ["--config", str(cfg), "rules", "list", "--no-default-rules", "--rules", str(rules)]
    )
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "then_success is a temporal rule" in result.stderr


WEB_RULE = (
    "title: {title}\nname: {name}\nlogsource: {{category: webserver}}\n"
    "detection:\n  sel: {{cs-uri-query|{modifier}: 'a'}}\n  condition: {condition}\n{extra}"
)


def _rule(
    tmp_path: Path,
    name: str,
    *,
    modifier: str = "contains",
    condition: str = "sel",
    extra: str = "",
) -> str:
    path = tmp_path / f"{name}.yml"
    path.write_text(
        WEB_RULE.format(
            title=name.title(), name=name, modifier=modifier, condition=condition, extra=extra
        )
    )
    return str(path)


def test_rules_check_fails_on_a_broken_rule_naming_its_file(tmp_path: Path) -> None:
    """An undefined selection or an unknown vigil: option is an error with its file, exit 1."""
    undefined = _rule(tmp_path, "undefined", condition="sel and other")
    option = _rule(tmp_path, "option", extra="vigil:\n  entiti: [source.ip]\n")
    result = runner.invoke(app, ["rules", "check", "--json", undefined, option])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["errors"]
    assert any(e.startswith(f"{undefined}: ") and "'other' not defined" in e for e in errors)
    assert any(
        e.startswith(f"{option}: ") and "unknown 'vigil:' option(s): entiti" in e for e in errors
    )
    assert json.loads(result.stdout)["unsupported"] == []


def test_rules_check_passes_with_only_unsupported_rules(tmp_path: Path) -> None:
    """Valid Sigma that vigil cannot evaluate is listed with its reason and file, exit 0."""
    lookaround = _rule(tmp_path, "lookaround", modifier="re")
    Path(lookaround).write_text(Path(lookaround).read_text().replace("'a'", "'a(?=b)'"))
    result = runner.invoke(app, ["rules", "check", lookaround])
    assert result.exit_code == 0, result.output
    assert f"not run: Lookaround ({lookaround}): regular expression" in result.stdout


def test_analyze_stops_on_a_broken_rule(tmp_path: Path) -> None:
    """`analyze --rules` with a broken rule is a config error naming it, not a quiet drop."""
    undefined = _rule(tmp_path, "undefined", condition="sel and other")
    result = runner.invoke(
        app,
        ["analyze", "--no-default-rules", "--rules", undefined, str(_auth_log(tmp_path, 1))],
    )
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "rule does not load" in result.stderr
    assert "undefined.yml" in result.stderr
