from __future__ import annotations

from pathlib import Path

import pytest
from eval.coverage import measure, share
from eval.manifest import Manifest, in_scope, out_of_scope

GOOD = "2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22"
BAD = "2026-11-22 10:00:03 | 203.0.113.9"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_measure_sums_formats_and_reasons_over_inputs(tmp_path: Path) -> None:
    """Figures add up per format; each reject reason keeps its count and examples taken
    from as many inputs as possible."""
    a = _write(tmp_path, "a.log", f"{GOOD}\n{BAD}\n{BAD}\n")
    b = _write(tmp_path, "b.log", f"{BAD}\n{GOOD}\n{GOOD}\n")
    c = _write(tmp_path, "c.log", "CEF:0|x|y|1|2|n|1|\n")
    manifest = Manifest(
        "d",
        [
            in_scope("d", a, "a.log", "fw", "firewall"),
            in_scope("d", b, "b.log", "fw", "firewall"),
            in_scope("d", a, "a-again.log", "ssh", "no-such-format"),
            out_of_scope("d", c, "c.log", "cef", "no cef parser"),
        ],
    )
    report = measure(manifest)
    fw = report.formats["firewall"]
    assert (fw.inputs, fw.lines, fw.parsed, fw.rejected) == (2, 6, 3, 3)
    assert (report.in_scope, report.parsed, report.waiting, report.out_of_scope) == (6, 3, 3, 1)
    assert report.formats["no-such-format"].parser_missing
    [reason] = report.reasons
    assert (reason.format, reason.reason, reason.count) == ("firewall", "not a firewall record", 3)
    assert [e.origin for e in reason.examples] == ["a.log:2", "b.log:1", "a.log:3"]
    assert report.scopes["no cef parser"].kinds == {"cef"}
    assert report.mismatches == []


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (1, 1, "100%"),
        (9999, 10000, "99.99%"),
        (99999, 100000, "99.99%"),
        (0, 3, "0.00%"),
        (0, 0, "-"),
    ],
)
def test_share_never_rounds_a_shortfall_up_to_100(part: int, whole: int, text: str) -> None:
    """Shares are truncated to two decimals; only a complete parse shows 100%."""
    assert share(part, whole) == text
