from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from eval.manifest import Input, LineRule, in_scope, out_of_scope
from eval.runner import SCOPE, classify_lines, evaluate_input

from vigil.parsers.base import ParseResult
from vigil.parsers.firewall import FirewallParser

GOOD = "2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22"
GOOD2 = "2026-11-22 10:00:02 | 203.0.113.8 | 198.51.100.10 | UDP | ALLOW | 5353 | 53"
BAD = "2026-11-22 10:00:03 | not an address | 198.51.100.10 | TCP | DENY | 1 | 2"
FOREIGN = "ERROR something else entirely"
RULES = (
    LineRule(r"^ERROR", "error lines"),
    LineRule(r"^ERROR something", "never chosen: the first rule wins"),
)


def _input(tmp_path: Path, text: str, expected: str = "firewall") -> Input:
    path = tmp_path / "fw.log"
    path.write_text(text)
    return in_scope("d", path, "case/fw.log", "kind", expected, RULES)


def test_classify_lines_marks_out_of_scope_lines_by_the_first_rule(tmp_path: Path) -> None:
    """Lines matching a line rule carry its reason; the others are in scope (null)."""
    lines = classify_lines(_input(tmp_path, f"{GOOD}\n{FOREIGN}\n"))
    assert lines.get_column(SCOPE).to_list() == [None, "error lines"]


def test_evaluate_input_counts_rejects_of_in_scope_lines_only(tmp_path: Path) -> None:
    """A forced run counts the bad in-scope line, skips blanks, and sets out-of-scope
    lines aside with their reason."""
    result = evaluate_input(_input(tmp_path, f"{GOOD}\n\n{BAD}\n{FOREIGN}\n{GOOD2}\n"))
    assert (result.lines, result.blank, result.in_scope, result.parsed) == (5, 1, 3, 2)
    assert dict(result.out_of_scope) == {"error lines": 1}
    assert result.forced is not None
    assert dict(result.forced.rejected) == {"not a firewall record": 1}
    [example] = result.forced.examples["not a firewall record"]
    assert (example.origin, example.text) == ("case/fw.log:3", BAD)
    assert sum(result.forced.out_of_scope_taken.values()) == 0
    assert result.auto is not None
    assert result.auto.format == "firewall"
    assert not result.sniff_mismatch


def test_evaluate_input_flags_when_sniffing_picks_another_format(tmp_path: Path) -> None:
    """When auto-detection finds no parser for an input, that is a sniffing mismatch."""
    result = evaluate_input(_input(tmp_path, "not a log line\n" * 3))
    assert result.auto is not None
    assert result.auto.format is None
    assert result.sniff_mismatch
    assert result.parsed == 0


def test_evaluate_input_without_the_expected_parser_is_marked_missing(tmp_path: Path) -> None:
    """An input whose format has no registered parser is not measured and not a mismatch."""
    result = evaluate_input(_input(tmp_path, f"{GOOD}\n", expected="no-such-format"))
    assert result.parser_missing
    assert result.forced is None
    assert not result.sniff_mismatch


def test_out_of_scope_input_runs_auto_detection_only(tmp_path: Path) -> None:
    """A whole out-of-scope input has no in-scope lines (blank lines count for no one);
    lines a sniffed parser takes anyway are counted under its reason."""
    path = tmp_path / "fw.log"
    path.write_text(f"{GOOD}\n\n{GOOD2}\n")
    result = evaluate_input(out_of_scope("d", path, "fw.log", "kind", "not ours"))
    assert (result.blank, result.in_scope, dict(result.out_of_scope)) == (1, 0, {"not ours": 2})
    assert result.forced is None
    assert result.auto is not None
    assert dict(result.auto.out_of_scope_taken) == {"not ours": 2}


def test_unreadable_input_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A binary file is reported as the input's error."""
    path = tmp_path / "fw.log"
    path.write_bytes(b"\x00\x01binary")
    result = evaluate_input(in_scope("d", path, "fw.log", "kind", "firewall"))
    assert result.error is not None
    assert "looks binary" in result.error


def test_a_parser_that_raises_is_counted_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception inside the pipeline loses the input's lines under its own reason."""

    def explode(self: FirewallParser, frame: pl.DataFrame) -> ParseResult:
        raise ValueError("boom\nsecond line of the message")

    monkeypatch.setattr(FirewallParser, "parse", explode)
    result = evaluate_input(_input(tmp_path, f"{GOOD}\n{GOOD2}\n"))
    assert result.forced is not None
    assert "internal error in the firewall stage" in (result.forced.error or "")
    assert "ValueError: boom" in (result.forced.error or "")
    (reason,) = dict(result.forced.rejected)
    assert reason.startswith("input not read:")
    assert dict(result.forced.rejected)[reason] == 2
    assert result.parsed == 0
