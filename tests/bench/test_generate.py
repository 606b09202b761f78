"""`bench/generate.py`: deterministic by seed, exact in size, and a working CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bench.generate import FORMATS, generate, main


def _text(fmt: str, seed: int) -> bytes:
    g = generate(fmt, 3000, seed=seed, lines_per_day=3000)
    return "".join(s.str.join("\n").item() + "\n" for s in g.text_chunks()).encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(fmt: str) -> None:
    """Two runs with one seed are byte-identical; a different seed changes the log."""
    first = _text(fmt, 1)
    assert first == _text(fmt, 1)
    assert first != _text(fmt, 2)
    assert first.count(b"\n") == 3000
    assert b"\n\n" not in first


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_records_the_digest_of_the_log_in_the_truth(fmt: str, tmp_path: Path) -> None:
    """The truth file beside the log names the log's sha256, so a stale pair is detectable."""
    out = tmp_path / f"{fmt}.log"
    truth = generate(fmt, 1000, seed=3).write(out)
    assert truth["log_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert json.loads((tmp_path / f"{fmt}.log.truth.json").read_text()) == truth
    assert truth["lines"] == 1000


def test_cli_writes_log_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`generate.py FORMAT --lines N --out PATH` writes N lines and PATH.truth.json."""
    out = tmp_path / "fw.log"
    assert main(["firewall", "--lines", "500", "--seed", "9", "--out", str(out)]) == 0
    assert out.read_text().count("\n") == 500
    assert (tmp_path / "fw.log.truth.json").is_file()
    assert "500 firewall lines" in capsys.readouterr().out


def test_unknown_format_and_empty_size_are_refused() -> None:
    """A format the generators do not know, or zero lines, is an error naming the problem."""
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        generate("csv", 10)
    with pytest.raises(ValueError, match="lines must be positive"):
        generate("sshd", 0)
