"""Rich rendering of an analysis for people (the JSON document is for programs)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from vigil.pipeline.report import TOP_N, AnalysisReport


def render_summary(report: AnalysisReport, console: Console) -> None:
    files = Table(title="Inputs", title_justify="left")
    for col, justify in (
        ("file", "left"),
        ("format", "left"),
        ("lines", "right"),
        ("events", "right"),
        ("rejected", "right"),
        ("first event", "left"),
        ("last event", "left"),
    ):
        files.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for f in report.files:
        fmt = f.format or ("[red]error[/]" if f.error else "[yellow]unknown[/]")
        if f.compression:
            fmt += f" ({f.compression})"
        rejected = f"[yellow]{f.rejected:,}[/]" if f.rejected else "0"
        files.add_row(
            f.path,
            fmt,
            f"{f.lines:,}",
            f"{f.events:,}",
            rejected,
            _ts(f.first_event),
            _ts(f.last_event),
        )
    if len(report.files) > 1:
        files.add_row(
            "[bold]total[/]",
            "",
            f"{report.lines:,}",
            f"{report.events:,}",
            f"{report.rejected:,}",
            "",
            "",
        )
    console.print(files)
    for f in report.files:
        if f.error:
            console.print(f"[red]{f.path}[/]: {f.error}", soft_wrap=True)
        for reason, n in f.reject_reasons.most_common(3):
            console.print(f"[yellow]{f.path}[/]: {n:,} rejected: {reason}", soft_wrap=True)

    tally = report.tally
    if tally.sources:
        sources = Table(title=f"Top {TOP_N} sources", title_justify="left")
        sources.add_column("source.ip")
        sources.add_column("events", justify="right")
        for ip, n in tally.sources.most_common(TOP_N):
            sources.add_row(ip, f"{n:,}")
        console.print(sources)
    if tally.actions or tally.outcomes:
        kinds = Table(title="Events by action and outcome", title_justify="left")
        kinds.add_column("event.action")
        kinds.add_column("events", justify="right")
        kinds.add_column("event.outcome")
        kinds.add_column("events", justify="right")
        actions = tally.actions.most_common(TOP_N)
        outcomes = tally.outcomes.most_common(TOP_N)
        for i in range(max(len(actions), len(outcomes))):
            a = actions[i] if i < len(actions) else ("", None)
            o = outcomes[i] if i < len(outcomes) else ("", None)
            kinds.add_row(
                a[0], "" if a[1] is None else f"{a[1]:,}", o[0], "" if o[1] is None else f"{o[1]:,}"
            )
        console.print(kinds)


def _ts(ts: datetime | None) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S")
