"""How the parse-coverage figures are shown (rich tables) and kept (JSON)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eval.coverage import DatasetReport, share
from eval.runner import InputResult

TOP_REASONS = 10
TOP_SHAPES = 8
EXAMPLE_CHARS = 140


def render_dataset(console: Console, report: DatasetReport, *, verbose: bool = False) -> None:
    console.rule(f"[bold]{report.dataset}")
    if report.missing:
        console.print("dataset folder not found: skipped")
        return
    _coverage(console, report)
    _reasons(console, report, verbose=verbose)
    _checks(console, report, verbose=verbose)
    _mismatches(console, report)
    _scopes(console, report)
    if verbose:
        _inputs(console, report)
    _notes(console, report)
    console.print(_dataset_line(report), soft_wrap=True)


def render_summary(console: Console, reports: list[DatasetReport]) -> str:
    """Print and return the one-line summary over all datasets."""
    present = [r for r in reports if not r.missing]
    if not present:
        line = "parsing: skipped (no dataset folder found)"
        console.print(line)
        return line
    in_scope = sum(r.in_scope for r in present)
    parsed = sum(r.parsed for r in present)
    waiting: Counter[str] = Counter()
    for r in present:
        for f in r.formats.values():
            if f.parser_missing:
                waiting[f.format] += f.lines
    parts = [
        f"parsing: {parsed:,} of {in_scope:,} in-scope lines parsed ({share(parsed, in_scope)})",
        f"over {len(present)} datasets",
        f"{sum(r.out_of_scope for r in present):,} lines out of scope",
        f"{sum(len(r.mismatches) for r in present)} inputs sniffed as another format",
    ]
    if waiting:
        names = ", ".join(f"{fmt} ({n:,} lines)" for fmt, n in sorted(waiting.items()))
        parts.append(f"no parser yet for {names}")
    errors = sum(len(r.errors) for r in present)
    if errors:
        parts.append(f"{errors} inputs failed")
    missing = [r.dataset for r in reports if r.missing]
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    line = "; ".join(parts)
    console.rule("[bold]summary")
    # Never wrapped, so CI logs can grep it.
    console.print(escape(line), soft_wrap=True)
    return line


def _coverage(console: Console, report: DatasetReport) -> None:
    table = Table(title=f"{report.dataset}: parse coverage by format", title_justify="left")
    for name in ("format", "inputs", "lines", "parsed", "rejected", "parsed %", "auto-detect %"):
        table.add_column(name, justify="left" if name == "format" else "right")
    for stats in sorted(report.formats.values(), key=lambda s: s.format):
        if stats.parser_missing:
            table.add_row(
                stats.format,
                f"{stats.inputs}",
                f"{stats.lines:,}",
                "-",
                "-",
                "no parser",
                share(stats.auto_parsed, stats.lines),
            )
            continue
        table.add_row(
            stats.format,
            f"{stats.inputs}",
            f"{stats.lines:,}",
            f"{stats.parsed:,}",
            f"{stats.rejected:,}",
            share(stats.parsed, stats.lines),
            share(stats.auto_parsed, stats.lines),
        )
    console.print(table)


def _reasons(console: Console, report: DatasetReport, *, verbose: bool) -> None:
    if not report.reasons:
        return
    shown = report.reasons if verbose else report.reasons[:TOP_REASONS]
    title = f"{report.dataset}: reject reasons of in-scope lines"
    if len(shown) < len(report.reasons):
        title += f" (top {len(shown)} of {len(report.reasons)}; -v for all)"
    table = Table(title=title, title_justify="left", show_lines=True)
    for name in ("format", "reason", "lines", "examples"):
        table.add_column(name, justify="right" if name == "lines" else "left", overflow="fold")
    for r in shown:
        examples = "\n".join(f"{e.origin}\n  {_cut(e.text)}" for e in r.examples)
        table.add_row(r.format, escape(r.reason), f"{r.count:,}", escape(examples))
    console.print(table)


def _checks(console: Console, report: DatasetReport, *, verbose: bool) -> None:
    """Parsed lines whose events lack what their content promises (see `understanding`)."""
    if not report.checks:
        return
    table = Table(
        title=f"{report.dataset}: parsed, but understood? (events of parsed in-scope lines)",
        title_justify="left",
        show_lines=True,
    )
    for name in ("format", "check", "events", "missed", "missed %", "top message shapes missed"):
        right = name in ("events", "missed", "missed %")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for (fmt, check), stats in sorted(report.checks.items()):
        shapes = stats.shapes.most_common(None if verbose else TOP_SHAPES)
        text = "\n".join(
            f"{n:,} x {shape}\n  e.g. {stats.examples[shape].origin}" for shape, n in shapes
        )
        if len(shapes) < len(stats.shapes):
            text += f"\n(+{len(stats.shapes) - len(shapes)} more shapes; -v for all)"
        table.add_row(
            fmt,
            check,
            f"{stats.events:,}",
            f"{stats.missed:,}",
            share(stats.missed, stats.events),
            escape(text) or "-",
        )
    console.print(table)


def _mismatches(console: Console, report: DatasetReport) -> None:
    groups: dict[tuple[str, str], list[InputResult]] = {}
    for r in report.mismatches:
        assert r.auto is not None
        assert r.input.expected is not None
        groups.setdefault((r.input.expected, r.auto.format or "(none)"), []).append(r)
    if not groups:
        return
    table = Table(
        title=f"{report.dataset}: auto-detection picked another format", title_justify="left"
    )
    for name in (
        "expected",
        "sniffed",
        "inputs",
        "lines",
        "parsed as expected",
        "parsed as sniffed",
        "for example",
    ):
        table.add_column(name, overflow="fold")
    for (expected, sniffed), results in sorted(groups.items()):
        labels = [r.input.label for r in results]
        more = f" (+{len(labels) - 3})" if len(labels) > 3 else ""
        lines = sum(r.in_scope for r in results)
        table.add_row(
            expected,
            sniffed,
            f"{len(labels)}",
            f"{lines:,}",
            share(sum(r.parsed for r in results), lines),
            share(sum(r.auto_parsed for r in results), lines),
            escape(", ".join(labels[:3]) + more),
        )
    console.print(table)


def _scopes(console: Console, report: DatasetReport) -> None:
    if not report.scopes:
        return
    table = Table(title=f"{report.dataset}: out of scope", title_justify="left")
    for name in ("reason", "source kind", "inputs", "lines", "taken as events anyway"):
        if name in ("inputs", "lines"):
            table.add_column(name, justify="right")
        else:
            table.add_column(name, overflow="fold")
    for scope in sorted(report.scopes.values(), key=lambda s: (-s.lines, s.reason)):
        taken = ", ".join(f"{fmt}: {n:,}" for fmt, n in scope.taken.most_common()) or "-"
        table.add_row(
            escape(scope.reason),
            escape(", ".join(sorted(scope.kinds))),
            f"{scope.inputs}",
            f"{scope.lines:,}",
            taken,
        )
    console.print(table)


def _inputs(console: Console, report: DatasetReport) -> None:
    table = Table(title=f"{report.dataset}: every input", title_justify="left")
    for name in ("input", "expected", "lines", "in scope", "rejected", "sniffed", "auto rejected"):
        table.add_column(name, overflow="fold")
    for r in report.results:
        forced = "-" if r.forced is None else f"{r.forced.rejected_total:,}"
        auto = "-" if r.auto is None else f"{r.auto.rejected_total:,}"
        sniffed = "-" if r.auto is None else (r.auto.format or "(none)")
        expected = r.input.expected or "out of scope"
        table.add_row(
            escape(r.input.label),
            expected,
            f"{r.lines:,}",
            f"{r.in_scope:,}",
            forced,
            sniffed,
            auto,
        )
    console.print(table)


def _notes(console: Console, report: DatasetReport) -> None:
    notes: list[str] = []
    if report.manifest is not None:
        notes.extend(report.manifest.notes)
        for label, kept in report.manifest.duplicates:
            notes.append(f"{label}: same bytes as {kept}, counted once")
    notes.extend(f"{label}: {error}" for label, error in report.errors)
    for note in notes:
        console.print(f"note: {escape(note)}")


def _dataset_line(report: DatasetReport) -> str:
    line = (
        f"{report.dataset}: {report.parsed:,} of {report.in_scope:,} in-scope lines parsed "
        f"({share(report.parsed, report.in_scope)}); {report.out_of_scope:,} lines out of scope"
    )
    if report.waiting:
        line += f"; {report.waiting:,} lines wait for a parser"
    return escape(line)


def _cut(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def to_json(reports: list[DatasetReport]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in reports:
        if r.missing:
            out[r.dataset] = {"status": "missing"}
            continue
        out[r.dataset] = {
            "status": "ok",
            "in_scope": r.in_scope,
            "parsed": r.parsed,
            "out_of_scope": r.out_of_scope,
            "formats": {
                f.format: {
                    "inputs": f.inputs,
                    "lines": f.lines,
                    "parsed": None if f.parser_missing else f.parsed,
                    "auto_parsed": f.auto_parsed,
                    "sniffed_elsewhere": f.sniffed_elsewhere,
                    "parser_missing": f.parser_missing,
                }
                for f in r.formats.values()
            },
            "reject_reasons": [
                {
                    "format": x.format,
                    "reason": x.reason,
                    "lines": x.count,
                    "examples": [{"origin": e.origin, "text": e.text} for e in x.examples],
                }
                for x in r.reasons
            ],
            "sniff_mismatches": [
                {
                    "input": m.input.label,
                    "expected": m.input.expected,
                    "sniffed": m.auto.format if m.auto else None,
                }
                for m in r.mismatches
            ],
            "out_of_scope_reasons": {
                s.reason: {
                    "kinds": sorted(s.kinds),
                    "inputs": s.inputs,
                    "lines": s.lines,
                    "taken": dict(s.taken),
                }
                for s in r.scopes.values()
            },
            "checks": [
                {
                    "format": c.format,
                    "check": c.check,
                    "events": c.events,
                    "missed": c.missed,
                    "missed_shapes": [
                        {"shape": shape, "events": n, "example": c.examples[shape].origin}
                        for shape, n in c.shapes.most_common()
                    ],
                }
                for c in r.checks.values()
            ],
            "errors": [{"input": label, "error": e} for label, e in r.errors],
        }
    return out
