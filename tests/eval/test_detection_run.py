"""The in-process detection run the evaluations share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eval.detection_run import RULES_ENV, detect, eval_pack, normalize_ip

from eval import detection_run

RULE = """\
title: test any sshd invalid user
name: test_invalid_user
id: 4a1c7f0e-9d7b-4c3e-8f57-3d0f7e2a9b01
status: test
logsource: {product: linux, service: sshd}
detection:
  sel:
    event.action: ssh_invalid_user
  condition: sel
level: low
"""
LOG = (
    "Mar  1 10:00:00 bastion sshd[1]: Invalid user admin from 203.0.113.7 port 5\n"
    "Mar  1 10:00:01 bastion sshd[1]: Accepted publickey for alice from 192.0.2.4 port 6 ssh2\n"
    "Mar  1 10:00:02 bastion sshd[1]: Invalid user test from 2001:DB8::1 port 7\n"
)


@pytest.fixture
def own_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rule.yml").write_text(RULE)
    monkeypatch.setenv(RULES_ENV, str(rules))
    eval_pack.cache_clear()
    yield rules
    eval_pack.cache_clear()


def test_rules_env_replaces_the_bundled_pack(own_rules: Path) -> None:
    """$VIGIL_EVAL_RULES names the rules to evaluate instead of the bundled pack."""
    assert eval_pack().names == ["test_invalid_user"]
    assert str(own_rules) in detection_run.pack_source()


def test_detect_reports_flagged_addresses_and_evidence_lines(
    own_rules: Path, tmp_path: Path
) -> None:
    """Alerts come back as normalised addresses per rule and as (file, line) evidence."""
    log = tmp_path / "auth.log"
    log.write_text(LOG)
    run = detect([log], fmt="sshd")
    assert run.flagged({"test_invalid_user"}) == {"203.0.113.7", "2001:db8::1"}
    assert run.flagged({"another_rule"}) == set()
    by_line = run.rules_by_line()
    assert by_line == {(str(log), 1): {"test_invalid_user"}, (str(log), 3): {"test_invalid_user"}}
    assert run.actions["203.0.113.7"]["ssh_invalid_user"] == 1
    assert run.errors == []


def test_an_unreadable_input_is_an_error_not_an_exception(own_rules: Path, tmp_path: Path) -> None:
    """A missing file is reported by the run, so the evaluation can say so and go on."""
    run = detect([tmp_path / "absent.log"], fmt="sshd")
    assert run.alerts == []
    assert len(run.errors) == 1


def test_normalize_ip_gives_one_spelling() -> None:
    """IPv6 is compressed and lower-cased; what is not an address is only stripped."""
    assert normalize_ip(" 2001:DB8:0::1 ") == "2001:db8::1"
    assert normalize_ip("203.0.113.7") == "203.0.113.7"
    assert normalize_ip("srcuser ") == "srcuser"
