from __future__ import annotations

from pathlib import Path

import pytest
from eval.crowdsec import crowdsec_hub_tests, vigil_format
from eval.manifest import CEF, WEB_ERROR_LINES


@pytest.mark.parametrize(
    ("log_type", "parsers", "expected"),
    [
        ("syslog", ["syslog-logs", "sshd-logs"], "sshd"),
        ("syslog", ["sshd-success-logs"], "sshd"),
        ("syslog", ["iptables-logs", "syslog-logs"], "netfilter"),
        ("syslog", ["syslog-logs", "pf-logs"], "syslog"),
        ("nginx", ["nginx-logs"], "apache"),
        ("apache2", [], "apache"),
        ("suricata-evelogs", [], "jsonl"),
        ("cef", ["cef-logs"], None),
        ("something-new", [], None),
    ],
)
def test_vigil_format_follows_log_type_and_parsers(
    log_type: str, parsers: list[str], expected: str | None
) -> None:
    """The CrowdSec log type, and for syslog the parsers loaded, decide the vigil format."""
    assert vigil_format(log_type, parsers) == expected


def _test_dir(root: Path, name: str, config: str, log: str | None) -> None:
    d = root / name
    d.mkdir()
    (d / "config.yaml").write_text(config)
    if log is not None:
        (d / f"{name}.log").write_text(log)


def test_crowdsec_manifest_classifies_each_test(tmp_path: Path) -> None:
    """Each test's log becomes one input: in a format, or out of scope with a reason."""
    _test_dir(
        tmp_path,
        "web",
        "parsers:\n- crowdsecurity/nginx-logs.yaml\nlog_file: web.log\nlog_type: nginx\n",
        '203.0.113.7 - - [22/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n',
    )
    _test_dir(tmp_path, "cef", "log_file: cef.log\nlog_type: cef\n", "CEF:0|a|b|1|2|n|1|\n")
    _test_dir(tmp_path, "odd", "log_file: odd.log\nlog_type: brand-new\n", "x\n")
    (tmp_path / "INDEX.csv").write_text("test_dir\n")
    by_label = {i.label: i for i in crowdsec_hub_tests(tmp_path).inputs}
    assert sorted(by_label) == ["cef/cef.log", "odd/odd.log", "web/web.log"]
    web = by_label["web/web.log"]
    assert (web.expected, web.kind, web.line_rules) == ("apache", "nginx", WEB_ERROR_LINES)
    assert by_label["cef/cef.log"].out_of_scope == CEF
    assert "'brand-new': unclassified" in (by_label["odd/odd.log"].out_of_scope or "")


def test_crowdsec_manifest_notes_tests_it_cannot_use(tmp_path: Path) -> None:
    """A test whose log file is missing or whose config is not a mapping is noted, not lost."""
    _test_dir(tmp_path, "gone", "log_file: gone.log\nlog_type: syslog\n", None)
    _test_dir(tmp_path, "bad", "- just\n- a list\n", None)
    manifest = crowdsec_hub_tests(tmp_path)
    assert manifest.inputs == []
    assert sorted(manifest.notes) == [
        "bad: config.yaml is not a YAML mapping; test left out",
        "gone: log_file 'gone.log' not found; left out",
    ]
