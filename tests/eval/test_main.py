from __future__ import annotations

import json
from pathlib import Path

import eval.__main__ as eval_main
import pytest
from eval.base import DATASETS_ENV, EvalContext, EvalResult

SSHD = "Nov 22 10:00:01 host sshd[7]: Invalid user admin from 203.0.113.7 port 22\n"


def test_missing_datasets_directory_is_skipped_with_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without datasets the harness says so and succeeds: developer machines may lack them."""
    assert eval_main.main(["--datasets", str(tmp_path / "absent")]) == 0
    out = capsys.readouterr().out
    assert "not found" in out
    assert "skipped" in out


def test_eval_reads_datasets_from_the_environment_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$VIGIL_DATASETS locates the datasets; absent dataset folders are reported missing."""
    (tmp_path / "loghub").mkdir()
    (tmp_path / "loghub" / "OpenSSH_2k.log").write_text(SSHD * 2)
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    out_json = tmp_path / "eval.json"
    assert eval_main.main(["--json", str(out_json)]) == 0
    doc = json.loads(out_json.read_text())["parsing"]
    assert doc["status"] == "ok"
    assert doc["loghub"]["formats"]["sshd"]["lines"] == 2
    assert doc["crowdsec_hub_tests"] == {"status": "missing"}
    out = capsys.readouterr().out
    assert "parsing:" in out
    assert "missing: crowdsec_hub_tests, wazuh_ruleset_tests, elastic_examples" in out


def test_a_failing_evaluation_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A harness failure (not a low figure) is the one thing that fails `make eval`."""

    def broken(ctx: EvalContext) -> EvalResult:
        raise RuntimeError("harness bug")

    monkeypatch.setattr(eval_main, "EVALUATIONS", {"broken": broken})
    assert eval_main.main(["--datasets", str(tmp_path)]) == 1
    assert "harness bug" in capsys.readouterr().out
