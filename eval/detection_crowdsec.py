"""`make eval` detection, CrowdSec hub tests: for every case whose log vigil parses and
whose expected scenario the pack covers (`SCENARIO_RULES`), does the pack alert on every
source address the case expects? Target: at least 95% of those cases.

Each case's log runs through the pipeline with the format the parse-coverage evaluation
expects for it, and the pack. A miss is listed with the vigil rules that would have
counted, the rules that alerted on the address anyway, and the events vigil made of the
address's lines (which usually says why: no rule counts that kind of line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

from eval.base import EvalContext, EvalResult
from eval.detection_crowdsec_cases import SCENARIO_RULES, Case, read_cases
from eval.detection_run import DetectionRun, detect, eval_pack, normalize_ip, pack_source, percent

NAME = "detection-crowdsec"
DATASET = "crowdsec_hub_tests"
TARGET = 0.95


@dataclass
class CaseResult:
    case: Case
    # Names of the rules in the pack.
    pack: set[str] = field(default_factory=set)
    run: DetectionRun | None = None
    # Expected address → the covering rules that flagged it (empty: missed).
    found: dict[str, set[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.found.values())

    @property
    def missed(self) -> list[str]:
        return [ip for ip, rules in self.found.items() if not rules]


def evaluate(ctx: EvalContext) -> EvalResult:
    console = ctx.console
    console.rule(f"[bold]{NAME}[/]: alerts on the sources CrowdSec's hub tests expect")
    root = ctx.datasets / DATASET
    if not root.is_dir():
        console.print(f"{DATASET}: missing; skipped")
        return EvalResult(NAME, "skipped", f"{DATASET} missing")
    pack = eval_pack()
    cases = read_cases(root)
    names = set(pack.names)
    judged = [run_case(c, names) for c in cases if c.parsed and c.covered(names)]
    others = [run_case(c, names) for c in cases if c.parsed and c.expected and not c.covered(names)]
    unparsed = [c for c in cases if c.expected and not c.parsed]
    absent = sorted({r for rules in SCENARIO_RULES.values() for r in rules} - set(pack.names))
    render(ctx, judged, others, unparsed, absent)
    hidden = {c.name: c.out_of_sight() for c in cases if c.parsed and c.out_of_sight()}
    for name, ips in hidden.items():
        console.print(
            f"not judged, {name}: {', '.join(ips)} stand only on lines out of scope"
            " (e.g. an error-log line in an access log)",
            markup=False,
        )
    passed = sum(r.passed for r in judged)
    summary = (
        f"{passed}/{len(judged)} covered cases alerted ({percent(passed, len(judged))}, "
        f"target {TARGET:.0%})"
    )
    details = {
        "covered_cases": len(judged),
        "passed": passed,
        "share": passed / len(judged) if judged else None,
        "rules_not_in_pack": absent,
        "cases": [to_json(r) for r in judged],
        "not_covered": [to_json(r) for r in others],
        "format_not_parsed": [c.name for c in unparsed],
        "addresses_only_on_out_of_scope_lines": hidden,
    }
    console.print(f"{NAME}: {summary}", markup=False)
    return EvalResult(NAME, "ok", summary, details)


def run_case(case: Case, pack: set[str]) -> CaseResult:
    """Run the case's log; for each expected address, the covering rules that flagged it."""
    result = CaseResult(case, pack=pack)
    assert case.log is not None
    run = detect([case.log], fmt=case.format)
    result.run = run
    if run.errors:
        result.error = "; ".join(run.errors)
    for expected in case.covered(pack):
        for ip in expected.ips:
            if not case.visible(ip):
                continue
            key = normalize_ip(ip)
            flagged = {r for r in expected.rules if key in run.flagged({r})}
            result.found[key] = result.found.get(key, set()) | flagged
    return result


def render(
    ctx: EvalContext,
    judged: list[CaseResult],
    others: list[CaseResult],
    unparsed: list[Case],
    absent: list[str],
) -> None:
    console = ctx.console
    table = Table(title="cases whose scenario the pack covers")
    for col in ("case", "CrowdSec scenario", "vigil rules", "expected sources", "verdict"):
        table.add_column(col)
    for r in judged:
        covered = r.case.covered(r.pack)
        names = sorted({e.scenario for e in covered})
        rules = sorted({rule for e in covered for rule in e.rules if rule in r.pack})
        verdict = "ok" if r.passed else ("[red]error[/]" if r.error else "[red]missed[/]")
        table.add_row(
            escape(r.case.name),
            escape(", ".join(names)),
            ", ".join(rules),
            ", ".join(r.found),
            verdict,
        )
    console.print(table)
    passed = sum(r.passed for r in judged)
    console.print(
        f"Rules: {pack_source()}. Covered cases alerted: {passed}/{len(judged)} "
        f"({percent(passed, len(judged))}; target {TARGET:.0%})"
    )
    if absent:
        console.print(
            f"  rules the mapping names that the pack lacks (their scenarios count as not "
            f"covered): {', '.join(absent)}"
        )
    for r in judged:
        if not r.passed:
            console.print(f"  missed {r.case.name}: {_why(r)}", markup=False, soft_wrap=True)
    bonus = [r for r in others if r.run is not None and r.run.alerts]
    console.print(
        f"Not covered ({len(others)} cases with a parsed log; no rule of this pack answers "
        f"their scenario): the pack alerted anyway on {len(bonus)}"
    )
    for r in others if ctx.verbose else bonus:
        assert r.run is not None
        alerted = sorted({a.rule_name for a in r.run.alerts})
        scenarios = ", ".join(sorted({e.scenario for e in r.case.expected}))
        console.print(
            f"  {r.case.name} ({scenarios}): {', '.join(alerted) or 'no alert'}",
            markup=False,
            soft_wrap=True,
        )
    kinds = sorted({c.log_type for c in unparsed})
    console.print(
        f"Cases whose log vigil does not parse: {len(unparsed)} (log types: {', '.join(kinds)})",
        markup=False,
    )


def _why(r: CaseResult) -> str:
    if r.error:
        return f"the input was not read: {r.error}"
    assert r.run is not None
    parts = []
    for ip in r.missed:
        wanted = sorted(
            {
                rule
                for e in r.case.covered(r.pack)
                if ip in {normalize_ip(x) for x in e.ips}
                for rule in e.rules
                if rule in r.pack
            }
        )
        anyway = sorted(
            {
                a.rule_name
                for a in r.run.alerts
                if normalize_ip(str(a.entity.get("source.ip", ""))) == ip
            }
        )
        actions = r.run.actions.get(ip)
        events = (
            ", ".join(f"{k} x{n}" for k, n in actions.most_common(5))
            if actions
            else "no event with this source.ip"
        )
        text = f"{ip} not flagged by {'/'.join(wanted)}; vigil events: {events}"
        if anyway:
            text += f"; other rules alerted on it: {', '.join(anyway)}"
        parts.append(text)
    return " | ".join(parts)


def to_json(r: CaseResult) -> dict[str, Any]:
    return {
        "case": r.case.name,
        "scenarios": sorted({e.scenario for e in r.case.expected}),
        "expected_sources": {ip: sorted(rules) for ip, rules in r.found.items()},
        "passed": r.passed,
        "alerted_rules": sorted({a.rule_name for a in r.run.alerts}) if r.run else [],
        "error": r.error,
    }
