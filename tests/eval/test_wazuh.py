from __future__ import annotations

from pathlib import Path

from eval.runner import SCOPE, classify_lines
from eval.wazuh import read_test_file, wazuh_ruleset_tests

SSHD_INI = """\
; a comment
[Invalid user]
log 1 pass = Nov 22 10:00:01 host sshd[1]: Invalid user a=b from 203.0.113.7 port 22
log 1 pass = Nov 22 10:00:02 host sshd[1]: Invalid user c from 203.0.113.8 port 22
log 2 fail = Nov 22 10:00:03 host sshd[1]: Accepted password for c from 203.0.113.8

rule = 5710
alert = 5
decoder = sshd

[No decoder]
log 1 fail = Nov 22 10:00:04 host kernel: noise
rule = 1
"""


def test_read_test_file_assigns_the_decoder_given_after_the_lines(tmp_path: Path) -> None:
    """Repeated keys are all kept, values keep their `=`, and a section without a decoder
    gets the empty decoder."""
    path = tmp_path / "sshd.ini"
    path.write_text(SSHD_INI)
    reading = read_test_file(path)
    assert [(t.line, t.verdict, t.decoder) for t in reading.lines] == [
        (3, "pass", "sshd"),
        (4, "pass", "sshd"),
        (5, "fail", "sshd"),
        (12, "fail", ""),
    ]
    assert "Invalid user a=b from" in reading.lines[0].text
    assert reading.lines[0].origin == "sshd.ini:3"
    assert reading.unkeyed == []


def test_read_test_file_reports_lines_without_a_key(tmp_path: Path) -> None:
    """A raw log line missing its `log N pass =` key is listed, not taken as a test line."""
    path = tmp_path / "pa.ini"
    path.write_text("[PA]\nMay 1 00:00:00 fw 1,2,3\n\nrule = 1\ndecoder = paloalto_system\n")
    reading = read_test_file(path)
    assert reading.lines == []
    assert reading.unkeyed == ["pa.ini:2"]


def test_wazuh_manifest_writes_one_input_per_decoder(tmp_path: Path) -> None:
    """Lines are grouped by decoder into files, each line keeping its INI origin."""
    root = tmp_path / "wazuh"
    root.mkdir()
    (root / "sshd.ini").write_text(SSHD_INI)
    (root / "asa.ini").write_text("[x]\nlog 1 pass = %ASA-1-1: up\ndecoder = cisco-asa\n")
    manifest = wazuh_ruleset_tests(root, tmp_path / "work")
    by_kind = {i.kind: i for i in manifest.inputs}
    assert sorted(by_kind) == ["", "cisco-asa", "sshd"]
    sshd = by_kind["sshd"]
    assert sshd.expected == "sshd"
    assert sshd.path.read_text().count("\n") == 3
    assert sshd.origin_of(2) == "sshd.ini:4 [Invalid user] pass"
    assert by_kind[""].expected == "syslog"
    assert by_kind["cisco-asa"].expected is None
    assert "Cisco ASA" in (by_kind["cisco-asa"].out_of_scope or "")


def test_wazuh_manifest_sets_apart_proftpd_own_log_lines(tmp_path: Path) -> None:
    """ProFTPD's SystemLog lines under the proftpd decoder are out of scope, syslog lines not."""
    root = tmp_path / "wazuh"
    root.mkdir()
    (root / "proftpd.ini").write_text(
        "[a]\n"
        "log 1 pass = Jan 04 22:51:57 ftp proftpd[2344]: refused connect from 192.0.2.1\n"
        "log 2 pass = 2015-04-16 21:51:02,805 ftp proftpd[26189] ftp (192.0.2.1[192.0.2.1]): x\n"
        "decoder = proftpd\n"
    )
    [proftpd] = wazuh_ruleset_tests(root, tmp_path / "work").inputs
    scopes = classify_lines(proftpd).get_column(SCOPE).to_list()
    assert scopes[0] is None
    assert "ProFTPD's own SystemLog" in scopes[1]
