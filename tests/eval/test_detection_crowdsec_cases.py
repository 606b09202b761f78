"""Reading CrowdSec hub cases as detection expectations, and deciding their coverage."""

from __future__ import annotations

from pathlib import Path

from eval.detection_crowdsec_cases import SCENARIO_RULES, read_assertions, read_case

ASSERT = """\
len(results) == 2
"203.0.113.7" in results[0].Overflow.GetSources()
results[0].Overflow.Sources["203.0.113.7"].GetScope() == "Ip"
results[0].Overflow.Alert.GetScenario() == "crowdsecurity/ssh-bf"
results[0].Overflow.Alert.Events[0].GetMeta("source_ip") == "203.0.113.7"
"alice" in results[1].Overflow.GetSources()
results[1].Overflow.Sources["alice"].GetScope() == "username"
results[1].Overflow.Alert.GetScenario() == "crowdsecurity/some-user-scenario"
"""


def _case(tmp_path: Path, log_type: str, parsers: list[str], log: str, assertions: str) -> Path:
    case = tmp_path / "case-1"
    case.mkdir()
    listed = "".join(f"- {p}\n" for p in parsers)
    (case / "config.yaml").write_text(
        f"parsers:\n{listed}log_file: case.log\nlog_type: {log_type}\n"
    )
    (case / "case.log").write_text(log)
    (case / "scenario.assert").write_text(assertions)
    return case


def test_assertions_give_each_result_its_scenario_and_scoped_sources() -> None:
    """Results are read by index; only `Ip` sources are addresses to compare."""
    first, second = read_assertions(ASSERT)
    assert first.scenario == "crowdsecurity/ssh-bf"
    assert first.ips == ["203.0.113.7"]
    assert second.sources == {"alice": "username"}
    assert second.ips == []


def test_a_case_is_covered_only_by_rules_the_pack_holds(tmp_path: Path) -> None:
    """Coverage is the scenario mapping intersected with the pack's rule names."""
    log = "Mar  1 10:00:00 host sshd[1]: Invalid user a from 203.0.113.7 port 5\n"
    case = read_case(_case(tmp_path, "syslog", ["crowdsecurity/sshd-logs"], log, ASSERT))
    assert case is not None
    assert case.format == "sshd"
    assert case.parsed
    assert [e.scenario for e in case.covered({"ssh_bruteforce"})] == ["crowdsecurity/ssh-bf"]
    assert case.covered({"web_sqli"}) == []
    assert "ssh_bruteforce" in SCENARIO_RULES["crowdsecurity/ssh-bf"]


def test_a_web_case_of_error_log_lines_only_is_not_parsed(tmp_path: Path) -> None:
    """A log type vigil reads whose lines are all error-log lines has no input for it."""
    log = (
        '2021/09/30 09:23:53 [error] 19#19: *17 user "foo" was not found, client: 192.0.2.1,'
        ' server: _, request: "GET / HTTP/1.1"\n'
    )
    case = read_case(_case(tmp_path, "nginx", [], log, ASSERT))
    assert case is not None
    assert case.format == "apache"
    assert case.in_scope_lines == 0
    assert not case.parsed


def test_a_directory_without_config_is_no_case(tmp_path: Path) -> None:
    """Folders that are not test cases are skipped, not failed."""
    (tmp_path / "stray").mkdir()
    assert read_case(tmp_path / "stray") is None
