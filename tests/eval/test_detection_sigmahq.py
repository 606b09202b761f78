"""The SigmaHQ evaluation: in-scope rules compile; out-of-scope and Windows rules apart."""

from __future__ import annotations

from pathlib import Path

from eval.base import EvalContext
from eval.detection_sigmahq import evaluate, rule_files
from rich.console import Console

RULE = """\
title: {title}
id: {id}
status: test
logsource: {logsource}
detection:
  sel:
    {field}|contains: 'x'
  condition: sel
level: low
"""


def _rule(folder: Path, name: str, uid: str, logsource: str, field: str = "message") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yml").write_text(
        RULE.format(title=name, id=uid, logsource=logsource, field=field)
    )


def test_counts_in_scope_compiled_and_lists_failures(tmp_path: Path) -> None:
    """A linux rule compiles, an AWS rule is out of scope, a Windows rule is never read,
    and an in-scope rule on an unknown field is listed with the compiler's reason."""
    rules = tmp_path / "sigma" / "rules" / "linux"
    _rule(rules, "ok", "11111111-1111-4111-8111-111111111111", "{product: linux}")
    _rule(rules, "aws", "22222222-2222-4222-8222-222222222222", "{product: aws, service: x}")
    _rule(rules, "win", "33333333-3333-4333-8333-333333333333", "{product: windows}")
    _rule(
        rules,
        "odd",
        "44444444-4444-4444-8444-444444444444",
        "{product: linux}",
        field="NoSuchField",
    )
    assert [p.stem for p in rule_files(tmp_path / "sigma")] == ["aws", "odd", "ok"]
    console = Console(width=300, record=True)
    result = evaluate(EvalContext(datasets=tmp_path, console=console, workdir=tmp_path))
    assert (result.details["in_scope"], result.details["compiled"]) == (2, 1)
    assert [u["rule"] for u in result.details["unsupported"]] == ["odd"]
    assert result.details["not_parsed_by_logsource"] == {"aws/x": 1}
    assert "unsupported: odd" in console.export_text()
