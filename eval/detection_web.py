"""`make eval` detection, web: precision, recall and F1 of vigil's web rules on labelled
requests (CSIC 2010 test split; HttpParams values), each request one access-log line
(see `detection_web_data` for exactly how), through the `apache` parser and the pack.

A request counts as flagged when an alert's evidence holds its line. Positives are
CSIC's anomalous requests and HttpParams' attack rows. CSIC's anomalies include invalid
but harmless values (letters in a phone number) that a signature rule neither can nor
should catch: its recall is a floor, its precision the telling figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.base import EvalContext, EvalResult
from eval.detection_run import detect, eval_pack, missing_rules, pack_source, percent
from eval.detection_web_data import (
    ENCODINGS,
    Request,
    csic_requests,
    httpparams_requests,
    write_log,
)

NAME = "detection-web"
WEB_RULES = (
    "web_scanner_user_agent",
    "web_404_burst",
    "web_auth_failure_burst",
    "web_sqli",
    "web_xss",
    "web_path_traversal",
    "web_command_injection",
    "web_log4shell",
)
# HttpParams attack type → the rule meant for it.
RULE_FOR = {
    "sqli": "web_sqli",
    "xss": "web_xss",
    "path-traversal": "web_path_traversal",
    "cmdi": "web_command_injection",
}
EXAMPLES = 5
TEXT_CHARS = 140


@dataclass
class Scored:
    """One labelled set after detection: per request, the rules that flagged it."""

    name: str
    requests: list[Request]
    flagged: list[set[str]] = field(default_factory=list)
    error: str | None = None

    def confusion(self, keep: Callable[[Request], bool] = lambda _: True) -> Counter[str]:
        out: Counter[str] = Counter()
        for req, rules in zip(self.requests, self.flagged, strict=True):
            if keep(req):
                out[("T" if req.attack == bool(rules) else "F") + ("P" if rules else "N")] += 1
        return out


def scores(c: Counter[str]) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1 from a confusion counter (None where undefined)."""
    tp, fp, fn = c["TP"], c["FP"], c["FN"]
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return precision, recall, f1


def score(name: str, requests: list[Request], workdir: Path) -> Scored:
    path = workdir / f"{name.replace(' ', '_').replace('/', '_')}.log"
    write_log(requests, path)
    run = detect([path], fmt="apache")
    by_line = run.rules_by_line()
    result = Scored(name, requests)
    result.flagged = [by_line.get((str(path), i), set()) for i in range(1, len(requests) + 1)]
    if run.errors:
        result.error = "; ".join(run.errors)
    elif run.rejected:
        result.error = f"the apache parser rejected {run.rejected} of the lines"
    path.unlink()
    return result


def evaluate(ctx: EvalContext) -> EvalResult:
    console = ctx.console
    console.rule(f"[bold]{NAME}[/]: web rules on labelled requests")
    pack = eval_pack()
    if len(missing_rules(pack, WEB_RULES)) == len(WEB_RULES):
        console.print(f"no web rule in {pack_source()}: skipped")
        return EvalResult(NAME, "skipped", "no web rule in the pack")
    sets: list[Scored] = []
    csic = ctx.datasets / "web_csic2010_subset"
    if csic.is_dir():
        requests = csic_requests(csic / "anomal_test.txt.gz", "anomalous")
        requests += csic_requests(csic / "norm_test.txt.gz", "normal")
        sets.append(score("CSIC 2010", requests, ctx.workdir))
    params = ctx.datasets / "web_httpparams" / "payload_full.csv"
    if params.is_file():
        for encoding in ENCODINGS:
            requests = httpparams_requests(params, encoding)
            sets.append(score(f"HttpParams {encoding}", requests, ctx.workdir))
    if not sets:
        console.print("web_csic2010_subset and web_httpparams: missing; skipped")
        return EvalResult(NAME, "skipped", "web datasets missing")
    render(ctx, sets, missing_rules(pack, WEB_RULES))
    parts = []
    for s in sets:
        p, r, f1 = scores(s.confusion())
        parts.append(f"{s.name} P={_f(p)} R={_f(r)} F1={_f(f1)}")
    console.print(f"{NAME}: {'; '.join(parts)}", markup=False)
    return EvalResult(NAME, "ok", "; ".join(parts), {s.name: to_json(s) for s in sets})


def render(ctx: EvalContext, sets: list[Scored], absent: list[str]) -> None:
    console = ctx.console
    table = Table(title="web rules: a request is flagged when an alert's evidence holds its line")
    for col in ("set", "subset", "requests", "attacks", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(col, justify="left" if col in ("set", "subset") else "right")
    table.add_column("F1", justify="right")
    for s in sets:
        groups: list[tuple[str, Callable[[Request], bool]]] = [("all", lambda _: True)]
        if s.name.startswith("CSIC"):
            groups += [(m, _method_is(m)) for m in sorted({r.method for r in s.requests})]
        else:
            groups += [(k, _label_is(k)) for k in sorted({r.label for r in s.requests})]
        for i, (label, keep) in enumerate(groups):
            c = s.confusion(keep)
            p, r, f1 = scores(c)
            if not (c["TP"] + c["FN"]) or not (c["FP"] + c["TN"]):
                # One class only: precision is 0 or 1 by construction, F1 says nothing.
                p = f1 = None
            table.add_row(
                s.name if i == 0 else "",
                label,
                f"{c['TP'] + c['FP'] + c['TN'] + c['FN']:,}",
                f"{c['TP'] + c['FN']:,}",
                f"{c['TP']:,}",
                f"{c['FP']:,}",
                f"{c['FN']:,}",
                _f(p),
                _f(r),
                _f(f1),
                end_section=i == len(groups) - 1,
            )
    console.print(table)
    console.print(
        f"Rules: {pack_source()}."
        + (f" Web rules not in the pack: {', '.join(absent)}." if absent else "")
        + " CSIC POST/PUT bodies are folded into the query string (an access log never holds"
        " them): the GET rows are what a real log gives."
    )
    for s in sets:
        if s.error:
            console.print(f"  {s.name}: {s.error}", markup=False)
        _by_rule(ctx, s)


def _by_rule(ctx: EvalContext, s: Scored) -> None:
    console = ctx.console
    on_attack: Counter[str] = Counter()
    on_normal: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for req, rules in zip(s.requests, s.flagged, strict=True):
        (on_attack if req.attack else on_normal).update(rules)
        if RULE_FOR.get(req.label) in rules:
            own[req.label] += 1
    parts = [
        f"{rule} {on_attack[rule]:,}/{on_normal[rule]:,}"
        for rule in sorted(set(on_attack) | set(on_normal))
    ]
    console.print(
        f"  {s.name}, lines flagged per rule (attack/normal): {', '.join(parts) or 'none'}",
        markup=False,
        soft_wrap=True,
    )
    if own:
        totals = Counter(r.label for r in s.requests)
        console.print(
            "  "
            + s.name
            + ", flagged by the rule meant for the type: "
            + ", ".join(
                f"{kind} {own[kind]:,}/{totals[kind]:,} ({percent(own[kind], totals[kind])})"
                for kind in sorted(RULE_FOR)
                if totals[kind]
            ),
            markup=False,
            soft_wrap=True,
        )
    limit = None if ctx.verbose else EXAMPLES
    false_pos = [(r, f) for r, f in zip(s.requests, s.flagged, strict=True) if f and not r.attack]
    for req, rules in false_pos[:limit]:
        console.print(
            f"    false positive ({', '.join(sorted(rules))}): {_cut(req)}",
            markup=False,
            soft_wrap=True,
        )
    if ctx.verbose:
        missed = [r for r, f in zip(s.requests, s.flagged, strict=True) if r.attack and not f]
        for req in missed:
            console.print(f"    missed ({req.label}): {_cut(req)}", markup=False, soft_wrap=True)


def _method_is(method: str) -> Callable[[Request], bool]:
    return lambda r: r.method == method


def _label_is(label: str) -> Callable[[Request], bool]:
    return lambda r: r.label == label


def to_json(s: Scored) -> dict[str, Any]:
    c = s.confusion()
    p, r, f1 = scores(c)
    return {
        "requests": len(s.requests),
        "confusion": dict(c),
        "precision": p,
        "recall": r,
        "f1": f1,
        "error": s.error,
    }


def _cut(req: Request) -> str:
    text = f"{req.method} {req.logged_target}"
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
