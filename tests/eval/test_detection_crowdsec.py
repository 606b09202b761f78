"""The CrowdSec detection evaluation: covered cases pass when the pack flags their sources."""

from __future__ import annotations

from pathlib import Path

from eval.base import EvalContext
from eval.detection_crowdsec import evaluate
from rich.console import Console

CONFIG = "parsers:\n- crowdsecurity/sshd-logs\nlog_file: {log}\nlog_type: syslog\n"
ASSERT = """\
len(results) == 1
"{ip}" in results[0].Overflow.GetSources()
results[0].Overflow.Sources["{ip}"].GetScope() == "Ip"
results[0].Overflow.Alert.GetScenario() == "{scenario}"
"""


def _failures(ip: str, n: int) -> str:
    return "".join(
        f"Mar  1 10:00:{s:02d} host sshd[1]: Failed password for root from {ip} port 5 ssh2\n"
        for s in range(n)
    )


def _add_case(root: Path, name: str, log: str, ip: str, scenario: str) -> None:
    case = root / name
    case.mkdir(parents=True)
    (case / "config.yaml").write_text(CONFIG.format(log=f"{name}.log"))
    (case / f"{name}.log").write_text(log)
    (case / "scenario.assert").write_text(ASSERT.format(ip=ip, scenario=scenario))


def test_covered_cases_are_judged_and_misses_say_why(tmp_path: Path) -> None:
    """Six failures are flagged, two are a miss whose reason names vigil's events; a
    scenario without a vigil rule is reported apart, not judged."""
    root = tmp_path / "crowdsec_hub_tests"
    _add_case(root, "bf-hit", _failures("203.0.113.7", 6), "203.0.113.7", "crowdsecurity/ssh-bf")
    _add_case(root, "bf-miss", _failures("198.51.100.2", 2), "198.51.100.2", "crowdsecurity/ssh-bf")
    _add_case(root, "slow", _failures("192.0.2.3", 2), "192.0.2.3", "crowdsecurity/ssh-slow-bf")
    console = Console(width=300, record=True)
    ctx = EvalContext(datasets=tmp_path, console=console, workdir=tmp_path)
    result = evaluate(ctx)
    assert result.details["covered_cases"] == 2
    assert result.details["passed"] == 1
    verdicts = {c["case"]: c["passed"] for c in result.details["cases"]}
    assert verdicts == {"bf-hit": True, "bf-miss": False}
    assert [c["case"] for c in result.details["not_covered"]] == ["slow"]
    text = console.export_text()
    assert "missed bf-miss: 198.51.100.2 not flagged" in text
    assert "ssh_login x2" in text


def test_missing_dataset_is_skipped(tmp_path: Path) -> None:
    """Without the dataset folder the evaluation says skipped."""
    ctx = EvalContext(datasets=tmp_path, console=Console(), workdir=tmp_path)
    assert evaluate(ctx).status == "skipped"
