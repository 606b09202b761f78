"""The Wazuh detection evaluation: levels from the INI cases, alerts by evidence line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eval.base import EvalContext
from eval.detection_run import RULES_ENV, eval_pack
from eval.detection_wazuh import MIN_LEVEL, evaluate, expectations
from rich.console import Console

INI = """\
[ssh invalid user]
log 1 pass = Mar  1 10:00:00 host sshd[1]: Invalid user admin from 203.0.113.7 port 5
log 2 fail = Mar  1 10:00:01 host sshd[1]: Accepted publickey for bob from 192.0.2.4 port 6 ssh2

rule = 5710
alert = 5
decoder = sshd

[ssh low]
log 1 pass = Mar  1 10:00:02 host sshd[1]: Invalid user low from 198.51.100.2 port 7
rule = 5700
alert = 3
decoder = sshd

[asa]
log 1 pass = %ASA-4-106023: Deny tcp src outside:192.0.2.9/5 dst inside:192.0.2.10/22
rule = 64002
alert = 8
decoder = cisco-asa
"""
RULE = """\
title: test invalid user
name: test_invalid_user
id: 6f0b3a52-8f1e-4f0a-9a7e-1c2b3d4e5f60
status: test
logsource: {product: linux, service: sshd}
detection:
  sel:
    event.action: ssh_invalid_user
  condition: sel
level: low
"""


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "wazuh_ruleset_tests"
    root.mkdir()
    (root / "sshd.ini").write_text(INI)
    (tmp_path / "rule.yml").write_text(RULE)
    monkeypatch.setenv(RULES_ENV, str(tmp_path / "rule.yml"))
    eval_pack.cache_clear()
    yield root
    eval_pack.cache_clear()


def test_each_log_line_gets_the_level_of_its_case(dataset: Path) -> None:
    """`alert =` after a case's lines is their level, whatever their verdict."""
    levels = {n: e.level for n, e in expectations(dataset / "sshd.ini").items()}
    assert levels == {2: 5, 3: 5, 10: 3, 16: 8}


def test_only_high_pass_lines_count_and_evidence_decides(dataset: Path, tmp_path: Path) -> None:
    """The level-5 pass line is wanted and alerted; a level-3 line that vigil alerts on is
    reported as extra; the ASA line has no parser and is left out."""
    work = tmp_path / "work"
    work.mkdir()
    console = Console(width=300, record=True)
    result = evaluate(EvalContext(datasets=dataset.parent, console=console, workdir=work))
    assert result.details["min_level"] == MIN_LEVEL
    assert (result.details["wanted_lines"], result.details["alerted_lines"]) == (1, 1)
    assert result.details["decoders"]["cisco-asa"]["format"] is None
    text = console.export_text()
    assert "vigil alerted on 1 lines Wazuh rates below 5" in text
    assert "1 level >= 5 lines left out: cisco-asa" in text


def test_web_lines_with_an_unpadded_day_are_read(tmp_path: Path) -> None:
    """`[1/Apr/2014` (a day Apache never writes unpadded) is read and alerted on."""
    root = tmp_path / "wazuh_ruleset_tests"
    root.mkdir()
    (root / "web.ini").write_text(
        "[bad agent]\n"
        'log 1 pass = 192.0.2.5 - - [1/Apr/2014:00:00:01 -0500] "GET / HTTP/1.1" 200 1 "-" "x"\n'
        "rule = 31508\nalert = 6\ndecoder = web-accesslog\n"
    )
    rule = RULE.replace("product: linux, service: sshd", "category: webserver").replace(
        "event.action: ssh_invalid_user", "http.request.method: GET"
    )
    (tmp_path / "rule.yml").write_text(rule)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(RULES_ENV, str(tmp_path / "rule.yml"))
        eval_pack.cache_clear()
        result = evaluate(EvalContext(datasets=tmp_path, console=Console(), workdir=work))
    eval_pack.cache_clear()
    web = result.details["decoders"]["web-accesslog"]
    assert (web["wanted"], web["alerted"], web["rejected"]) == (1, 1, 0)
