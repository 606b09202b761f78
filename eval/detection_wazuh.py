"""`make eval` detection, Wazuh ruleset tests: of the log lines Wazuh alerts on at level
5 or more, the share vigil alerts on too.

Each case of a Wazuh test file gives, after its `log N pass|fail = ...` lines, the rule
and the alert level its `pass` lines must raise (`rule = 5710`, `alert = 5`). The lines
Wazuh must alert on at level >= 5 are the `pass` lines of cases with `alert >= 5`.

The lines are grouped by decoder as the parse-coverage evaluation does (`eval.wazuh`:
same reader, same decoder → format table, same out-of-scope line rules) and written one
file per decoder; each file runs through the pipeline with that format and the pack. A
line counts as alerted when some alert's evidence holds it. Lines of decoders vigil has
no parser for are counted apart.

Most of these cases are single lines, and most of vigil's SSH rules are thresholds over
several lines: a single `Invalid user` line is level 5 to Wazuh and, rightly, nothing to
a rule that needs five. The figure is a map of where the two differ, not a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.base import EvalContext, EvalResult
from eval.detection_run import detect, pack_source, percent
from eval.wazuh import DECODERS, LINE_RULES, OUT_OF_SCOPE, TestLine, read_test_file

NAME = "detection-wazuh"
DATASET = "wazuh_ruleset_tests"
MIN_LEVEL = 5
LISTED = 12
TEXT_CHARS = 110

_SECTION = re.compile(r"^\[.*\]\s*$")
_LOG = re.compile(r"^log\s+\d+\s+(?:pass|fail)\s*=")
_SETTING = re.compile(r"^(?P<key>rule|alert)\s*=\s*(?P<value>\S+)")


@dataclass(frozen=True)
class Expectation:
    rule: str | None
    level: int | None


@dataclass
class Line:
    test: TestLine
    expectation: Expectation
    # Why the line is out of scope for its decoder's format, if it is.
    out_of_scope: str | None = None
    alerted_by: set[str] = field(default_factory=set)
    # Why vigil's parser rejected the line, if it did (then no rule could see it).
    rejected: str | None = None

    @property
    def wanted(self) -> bool:
        """Wazuh alerts on it at MIN_LEVEL or more."""
        level = self.expectation.level
        return self.test.verdict == "pass" and level is not None and level >= MIN_LEVEL


@dataclass
class DecoderResult:
    decoder: str
    format: str | None
    lines: list[Line]
    error: str | None = None

    @property
    def wanted(self) -> list[Line]:
        return [ln for ln in self.lines if ln.wanted and ln.out_of_scope is None]

    @property
    def alerted(self) -> list[Line]:
        return [ln for ln in self.wanted if ln.alerted_by]

    @property
    def rejected(self) -> list[Line]:
        return [ln for ln in self.wanted if ln.rejected is not None]


def expectations(path: Path) -> dict[int, Expectation]:
    """INI line number of each `log N` line → the rule and level of its case: the first
    `rule =` / `alert =` after it in the same section."""
    out: dict[int, Expectation] = {}
    pending: list[int] = []
    rule: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        line = raw.rstrip("\r")
        if _SECTION.match(line):
            pending, rule = [], None
        elif _LOG.match(line):
            pending.append(number)
        elif (m := _SETTING.match(line)) is not None:
            if m["key"] == "rule":
                rule = m["value"]
                continue
            level = int(m["value"]) if m["value"].isdigit() else None
            for waiting in pending:
                out[waiting] = Expectation(rule, level)
            pending = []
    return out


def collect(root: Path) -> dict[str, list[Line]]:
    """Every test line with its expectation, by decoder, in file order."""
    by_decoder: dict[str, list[Line]] = {}
    for path in sorted(root.glob("*.ini")):
        known = expectations(path)
        for test in read_test_file(path).lines:
            expectation = known.get(test.line, Expectation(None, None))
            line = Line(test, expectation, _line_scope(test))
            by_decoder.setdefault(test.decoder, []).append(line)
    return by_decoder


def _line_scope(test: TestLine) -> str | None:
    for rule in LINE_RULES.get(test.decoder, ()):
        if re.search(rule.pattern, test.text):
            return rule.reason
    return None


def run_decoder(decoder: str, lines: list[Line], workdir: Path) -> DecoderResult:
    fmt = DECODERS.get(decoder)
    result = DecoderResult(decoder, fmt, lines)
    if fmt is None:
        return result
    path = workdir / f"wazuh-{re.sub(r'[^A-Za-z0-9_.-]', '_', decoder or 'no-decoder')}.log"
    path.write_text("".join(ln.test.text + "\n" for ln in lines), "utf-8")
    run = detect([path], fmt=fmt)
    if run.errors:
        result.error = "; ".join(run.errors)
    by_line = run.rules_by_line()
    for number, line in enumerate(lines, start=1):
        line.alerted_by = by_line.get((str(path), number), set())
        line.rejected = run.rejects.get((str(path), number))
    return result


def evaluate(ctx: EvalContext) -> EvalResult:
    console = ctx.console
    console.rule(
        f"[bold]{NAME}[/]: lines Wazuh alerts on at level >= {MIN_LEVEL}, alerted by vigil"
    )
    root = ctx.datasets / DATASET
    if not root.is_dir():
        console.print(f"{DATASET}: missing; skipped")
        return EvalResult(NAME, "skipped", f"{DATASET} missing")
    results = [run_decoder(d, lines, ctx.workdir) for d, lines in sorted(collect(root).items())]
    render(ctx, results)
    scoped = [r for r in results if r.format is not None]
    wanted = sum(len(r.wanted) for r in scoped)
    alerted = sum(len(r.alerted) for r in scoped)
    summary = f"{alerted}/{wanted} level>={MIN_LEVEL} lines alerted ({percent(alerted, wanted)})"
    console.print(f"{NAME}: {summary}", markup=False)
    return EvalResult(NAME, "ok", summary, to_json(results))


def render(ctx: EvalContext, results: list[DecoderResult]) -> None:
    console = ctx.console
    table = Table(title=f"Wazuh level >= {MIN_LEVEL} lines that vigil alerts on, by decoder")
    for col in (
        "decoder",
        "vigil format",
        "lines",
        f"level >= {MIN_LEVEL}",
        "vigil alerted",
        "share",
        "of them rejected",
    ):
        table.add_column(col, justify="left" if col in ("decoder", "vigil format") else "right")
    table.add_column("rules that alerted")
    for r in results:
        if r.format is None:
            continue
        rules = sorted({name for ln in r.lines for name in ln.alerted_by})
        table.add_row(
            r.decoder or "(none)",
            r.format,
            str(len(r.lines)),
            str(len(r.wanted)),
            str(len(r.alerted)),
            percent(len(r.alerted), len(r.wanted)),
            str(len(r.rejected)),
            ", ".join(rules),
        )
    scoped = [r for r in results if r.format is not None]
    wanted = sum(len(r.wanted) for r in scoped)
    alerted = sum(len(r.alerted) for r in scoped)
    table.add_row(
        "all",
        "",
        str(sum(len(r.lines) for r in scoped)),
        str(wanted),
        str(alerted),
        percent(alerted, wanted),
        str(sum(len(r.rejected) for r in scoped)),
        "",
        end_section=True,
    )
    console.print(table)
    console.print(
        f"Rules: {pack_source()}. An alert counts for a line when its evidence holds it; "
        "a line vigil's parser rejected cannot be alerted on (its reason is given)."
    )
    for r in scoped:
        if r.error:
            console.print(f"  decoder {r.decoder}: the input was not read: {r.error}", markup=False)
    missed = [ln for r in scoped for ln in r.wanted if not ln.alerted_by]
    limit = len(missed) if ctx.verbose else LISTED
    for ln in missed[:limit]:
        console.print(f"  not alerted: {_describe(ln)}", markup=False, soft_wrap=True)
    if len(missed) > limit:
        console.print(f"  ... {len(missed) - limit} more not alerted (-v lists all)")
    extra = [ln for r in scoped for ln in r.lines if ln.alerted_by and not ln.wanted]
    console.print(
        f"vigil alerted on {len(extra)} lines Wazuh rates below {MIN_LEVEL} or must not alert on"
    )
    for ln in extra[:limit]:
        by = ", ".join(sorted(ln.alerted_by))
        console.print(f"  {by}: {_describe(ln)}", markup=False, soft_wrap=True)
    outside = [r for r in results if r.format is None]
    count = sum(sum(ln.wanted for ln in r.lines) for r in outside)
    names = ", ".join(
        f"{r.decoder} ({OUT_OF_SCOPE.get(r.decoder, 'unclassified').split(':')[0]})"
        for r in outside
    )
    console.print(
        f"Decoders vigil has no parser for: {count} level >= {MIN_LEVEL} lines left out: {names}",
        markup=False,
        soft_wrap=True,
    )


def _describe(ln: Line) -> str:
    e = ln.expectation
    text = ln.test.text if len(ln.test.text) <= TEXT_CHARS else ln.test.text[: TEXT_CHARS - 1] + "…"
    where = f"{ln.test.origin} [{ln.test.section}] {ln.test.verdict}"
    rejected = f" (rejected by the parser: {ln.rejected})" if ln.rejected else ""
    return f"{where}, rule {e.rule} level {e.level}{rejected}: {text}"


def to_json(results: list[DecoderResult]) -> dict[str, Any]:
    scoped = [r for r in results if r.format is not None]
    wanted = sum(len(r.wanted) for r in scoped)
    alerted = sum(len(r.alerted) for r in scoped)
    return {
        "min_level": MIN_LEVEL,
        "wanted_lines": wanted,
        "alerted_lines": alerted,
        "share": alerted / wanted if wanted else None,
        "decoders": {
            r.decoder or "(none)": {
                "format": r.format,
                "lines": len(r.lines),
                "wanted": len(r.wanted),
                "alerted": len(r.alerted),
                "rejected": len(r.rejected),
                "missed": [ln.test.origin for ln in r.wanted if not ln.alerted_by],
            }
            for r in results
        },
    }
