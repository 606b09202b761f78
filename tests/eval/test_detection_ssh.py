"""The SSH truth evaluation: vigil's ssh_bruteforce against the reference and the truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval.base import EvalContext
from rich.console import Console

from eval import detection_ssh

# Near misses and hits around the rule's edges, all from documentation addresses.
LOG = [
    # 5 attempts, the last exactly 10 minutes after the first: flagged.
    *(
        f"Mar  1 10:0{m}:00 bastion sshd[1]: Failed password for root from 203.0.113.1 port 5 ssh2"
        for m in (0, 2, 4, 6, 8)
    ),
    "Mar  1 10:10:00 bastion sshd[1]: Failed password for root from 203.0.113.1 port 5 ssh2",
    # 4 attempts in 10 minutes: not flagged.
    *(
        f"Mar  1 11:0{m}:00 bastion sshd[2]: Failed password for admin from 203.0.113.2 port 5 ssh2"
        for m in (0, 1, 2, 3)
    ),
    # 1 + `message repeated 4 times`: 5 attempts, flagged.
    "Mar  1 12:00:00 bastion sshd[3]: Failed password for root from 198.51.100.3 port 5 ssh2",
    "Mar  1 12:00:09 bastion sshd[3]: message repeated 4 times: [ Failed password for root from"
    " 198.51.100.3 port 5 ssh2]",
    # publickey failures: no attempts.
    *(
        f"Mar  1 13:00:0{s} bastion sshd[4]: Failed publickey for git from 192.0.2.4 port 5 ssh2"
        for s in range(6)
    ),
]


def _ctx(datasets: Path, workdir: Path) -> EvalContext:
    return EvalContext(datasets=datasets, console=Console(width=200), workdir=workdir)


def test_vigil_agrees_with_the_reference_on_edge_cases(tmp_path: Path) -> None:
    """On hand-made near misses the pack's rule flags exactly what the definition says."""
    path = tmp_path / "auth.log"
    path.write_text("\n".join(LOG) + "\n")
    result = detection_ssh.measure("edges", path)
    assert result.expected == {"203.0.113.1", "198.51.100.3"}
    assert result.flagged == result.expected
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_evaluate_reports_each_set_and_the_generated_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing real log is reported as missing; the generated log is compared with the
    reference and with its own must_ban."""
    monkeypatch.setattr(detection_ssh, "SYNTHETIC_LINES", 20_000)
    (tmp_path / "loghub").mkdir()
    (tmp_path / "loghub" / "OpenSSH_2k.log").write_text("\n".join(LOG) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    result = detection_ssh.evaluate(_ctx(tmp_path, work))
    assert result.status == "ok"
    sets = result.details["sets"]
    assert sets[0]["precision"] == 1.0
    assert sets[1] == {"set": "elastic_examples/auth.log", "status": "dataset missing"}
    generated = sets[2]
    assert generated["reference_vs_must_ban_differ"] == []
    assert generated["missed"] == []
    assert generated["false_positives"] == []
    assert generated["must_ban"] == generated["vigil_flagged"] > 0
    out = capsys.readouterr().out
    assert "by planted class" in out
    assert "exact5" in out
    assert list(work.iterdir()) == []
