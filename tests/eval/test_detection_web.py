"""The web detection evaluation: confusion counts from evidence lines, and the scores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from eval.base import EvalContext
from eval.detection_run import RULES_ENV, eval_pack
from eval.detection_web import evaluate, scores
from rich.console import Console

RULE = """\
title: test sqli
name: web_sqli
id: 1d6e2f90-3b4a-4c5d-8e7f-9a0b1c2d3e4f
status: test
logsource: {category: webserver}
detection:
  sel:
    url.query|contains: 'union'
  condition: sel
level: high
"""
PARAMS = (
    '"payload","length","attack_type","label"\n'
    '"1 union select 1","16","sqli","anom"\n'
    '"1 and 1=1","9","sqli","anom"\n'
    '"trade union street","18","norm","norm"\n'
    '"plain","5","norm","norm"\n'
)


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "rule.yml").write_text(RULE)
    monkeypatch.setenv(RULES_ENV, str(tmp_path / "rule.yml"))
    eval_pack.cache_clear()
    yield
    eval_pack.cache_clear()


def test_scores_from_a_confusion_counter() -> None:
    """Precision, recall and F1 as usual; undefined ones are None."""
    p, r, f1 = scores(Counter(TP=3, FP=1, FN=3))
    assert (p, r) == (0.75, 0.5)
    assert f1 == pytest.approx(0.6)
    assert scores(Counter(TN=4)) == (None, None, None)


def test_httpparams_rows_are_scored_by_the_lines_alerts_hold(rules: None, tmp_path: Path) -> None:
    """One true positive, one miss, one false positive ('trade union'), one true negative,
    in both encodings."""
    (tmp_path / "web_httpparams").mkdir()
    (tmp_path / "web_httpparams" / "payload_full.csv").write_text(PARAMS)
    work = tmp_path / "work"
    work.mkdir()
    console = Console(width=300, record=True)
    result = evaluate(EvalContext(datasets=tmp_path, console=console, workdir=work))
    assert result.status == "ok"
    for name in ("HttpParams form", "HttpParams raw"):
        assert result.details[name]["confusion"] == {"TP": 1, "FN": 1, "FP": 1, "TN": 1}
    assert "false positive (web_sqli): GET /search?q=trade" in console.export_text()
    assert list(work.iterdir()) == []


def test_a_pack_without_web_rules_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to measure is said, not scored as zero."""
    (tmp_path / "other.yml").write_text(RULE.replace("web_sqli", "not_a_web_rule"))
    monkeypatch.setenv(RULES_ENV, str(tmp_path / "other.yml"))
    eval_pack.cache_clear()
    try:
        ctx = EvalContext(datasets=tmp_path, console=Console(), workdir=tmp_path)
        assert evaluate(ctx).status == "skipped"
    finally:
        eval_pack.cache_clear()
