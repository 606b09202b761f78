"""`make eval` detection, SigmaHQ: how many of SigmaHQ's rules for the logsources vigil
parses compile, the rest listed with the compiler's reason. Target: at least 99%.

The scope and the figure are those of `tests/detect/test_sigma_sigmahq.py`, whose
helpers this imports rather than restates: Windows rules are left out before parsing
(their product has no parser; it saves three quarters of the load time), a rule is in
scope unless the compiler says no vigil parser produces its logsource, and every other
`Unsupported` is a failure with its reason. Here over `<datasets>/sigma`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table
from tests.detect.test_sigma_sigmahq import NO_PARSER, _not_windows

from eval.base import EvalContext, EvalResult
from vigil.detect.sigma.compiler import Unsupported, compile_rules
from vigil.detect.sigma.loader import load_rules

NAME = "detection-sigmahq"
DATASET = "sigma"
TARGET = 0.99


def rule_files(root: Path) -> list[Path]:
    """SigmaHQ's rule files (`rules*/` folders), Windows rules left out."""
    files = [p for d in sorted(root.glob("rules*/")) for p in sorted(d.rglob("*.yml"))]
    return [p for p in files if _not_windows(p)]


def logsource(u: Unsupported) -> str:
    ls = u.rule.logsource
    return "/".join(str(x) for x in (ls.product, ls.category, ls.service) if x) or "(none)"


def evaluate(ctx: EvalContext) -> EvalResult:
    console = ctx.console
    console.rule(f"[bold]{NAME}[/]: SigmaHQ rules for the logsources vigil parses")
    root = ctx.datasets / DATASET
    if not root.is_dir():
        console.print(f"{DATASET}: missing; skipped")
        return EvalResult(NAME, "skipped", f"{DATASET} missing")
    files = rule_files(root)
    loaded = load_rules(files)
    compiled, unsupported = compile_rules(loaded.rules)
    failed = [u for u in unsupported if not u.reason.startswith(NO_PARSER)]
    outside = Counter(logsource(u) for u in unsupported if u.reason.startswith(NO_PARSER))
    in_scope = len(compiled) + len(failed)
    share = len(compiled) / in_scope if in_scope else None
    by_source = Counter(str(c.logsource.name) for c in compiled)
    table = Table(title="SigmaHQ rules (Windows rules left out before loading)")
    table.add_column("what")
    table.add_column("rules", justify="right")
    table.add_row("rule files read (non-Windows)", f"{len(files):,}")
    table.add_row("load errors", f"{len(loaded.errors):,}")
    table.add_row("detection rules loaded", f"{len(loaded.rules):,}")
    table.add_row("logsource vigil does not parse", f"{sum(outside.values()):,}")
    table.add_row("in scope", f"{in_scope:,}")
    table.add_row("compiled", f"{len(compiled):,}")
    table.add_row("unsupported (in scope)", f"{len(failed):,}")
    table.add_row("compiled share", "-" if share is None else f"{share:.1%} (target {TARGET:.0%})")
    console.print(table)
    console.print(
        "compiled, by vigil logsource: "
        + ", ".join(f"{name} {n}" for name, n in by_source.most_common()),
        markup=False,
        soft_wrap=True,
    )
    for u in failed:
        console.print(f"  unsupported: {u.title} ({u.path}): {u.reason}", markup=False)
    for error in loaded.errors:
        console.print(f"  load error: {error}", markup=False)
    shown = outside.most_common() if ctx.verbose else outside.most_common(8)
    console.print(
        "not parsed by vigil, by logsource: "
        + ", ".join(f"{name} {n}" for name, n in shown)
        + ("" if ctx.verbose or len(outside) <= 8 else f", ... ({len(outside)} logsources)"),
        markup=False,
        soft_wrap=True,
    )
    summary = f"{len(compiled)}/{in_scope} in-scope SigmaHQ rules compile" + (
        f" ({share:.1%})" if share is not None else ""
    )
    details: dict[str, Any] = {
        "files": len(files),
        "load_errors": [str(e) for e in loaded.errors],
        "in_scope": in_scope,
        "compiled": len(compiled),
        "share": share,
        "unsupported": [{"rule": u.title, "path": u.path, "reason": u.reason} for u in failed],
        "not_parsed_by_logsource": dict(outside),
    }
    console.print(f"{NAME}: {summary}", markup=False)
    return EvalResult(NAME, "ok", summary, details)
