from __future__ import annotations

import io
from pathlib import Path

from eval.coverage import CheckStats, DatasetReport, measure
from eval.manifest import LineRule, Manifest, in_scope, out_of_scope
from eval.parsing_report import render_dataset, render_summary, to_json
from eval.runner import Example
from rich.console import Console

GOOD = "2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22"
BAD = "2026-11-22 10:00:03 | 203.0.113.9"


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


def test_dataset_report_shows_every_section(tmp_path: Path) -> None:
    """Coverage, reasons, checks, sniffing, scope and the dataset line are all printed."""
    (tmp_path / "a.log").write_text(f"{GOOD}\n{BAD}\nERR x\n")
    (tmp_path / "junk.log").write_text("junk\n")
    (tmp_path / "c.log").write_text("CEF:0|x\n")
    rules = (LineRule("^ERR", "error lines"),)
    report = measure(
        Manifest(
            "demo",
            [
                in_scope("demo", tmp_path / "a.log", "a.log", "fw", "firewall", rules),
                in_scope("demo", tmp_path / "junk.log", "junk.log", "fw", "firewall"),
                out_of_scope("demo", tmp_path / "c.log", "c.log", "cef", "no cef parser"),
            ],
        )
    )
    check = CheckStats("firewall", "sshd message has an event.action", 4, 1)
    check.shapes["debugN: x"] = 1
    check.examples["debugN: x"] = Example("a.log:9", "debug1: x")
    report.checks[("firewall", check.check)] = check
    console, out = _console()
    render_dataset(console, report)
    text = out.getvalue()
    for fragment in (
        "demo: parse coverage by format",
        "not a firewall record",
        "a.log:2",
        "1 x debugN: x",
        "auto-detection picked another format",
        "junk.log",
        "no cef parser",
        "error lines",
        "demo: 1 of 3 in-scope lines parsed (33.33%); 2 lines out of scope",
    ):
        assert fragment in text, fragment
    doc = to_json([report])["demo"]
    assert doc["formats"]["firewall"]["parsed"] == 1
    assert doc["sniff_mismatches"] == [
        {"input": "junk.log", "expected": "firewall", "sniffed": None}
    ]
    assert doc["out_of_scope_reasons"]["no cef parser"]["lines"] == 1
    assert doc["checks"][0]["missed_shapes"] == [
        {"shape": "debugN: x", "events": 1, "example": "a.log:9"}
    ]


def test_summary_line_names_missing_datasets_and_waiting_formats(tmp_path: Path) -> None:
    """The final line adds up all datasets and says what could not be measured."""
    (tmp_path / "a.log").write_text(f"{GOOD}\n")
    report = measure(
        Manifest(
            "demo",
            [
                in_scope("demo", tmp_path / "a.log", "a.log", "fw", "firewall"),
                in_scope("demo", tmp_path / "a.log", "b.log", "ssh", "not-yet"),
            ],
        )
    )
    console, out = _console()
    line = render_summary(console, [report, DatasetReport("other", missing=True)])
    assert line.startswith("parsing: 1 of 1 in-scope lines parsed (100%)")
    assert "no parser yet for not-yet (1 lines)" in line
    assert line.endswith("missing: other")
    assert line in out.getvalue()
