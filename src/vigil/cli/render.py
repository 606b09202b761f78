"""Rich rendering of an analysis for people (the JSON document is for programs)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from vigil.pipeline.report import TOP_N, AnalysisReport, ranked


def render_summary(report: AnalysisReport, console: Console) -> None:
    files = Table(title="Inputs", title_justify="left")
    for col, justify in (
        ("file", "left"),
        ("format", "left"),
        ("lines", "right"),
        ("events", "right"),
        ("rejected", "right"),
        ("first event (UTC)", "left"),
        ("last event (UTC)", "left"),
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
        for ip, n in ranked(tally.sources, TOP_N):
            sources.add_row(ip, f"{n:,}")
        console.print(sources)
    if tally.actions or tally.outcomes:
        kinds = Table(title="Events by action and outcome", title_justify="left")
        kinds.add_column("event.action")
        kinds.add_column("events", justify="right")
        kinds.add_column("event.outcome")
        kinds.add_column("events", justify="right")
        actions = ranked(tally.actions, TOP_N)
        outcomes = ranked(tally.outcomes, TOP_N)
        for i in range(max(len(actions), len(outcomes))):
            a = actions[i] if i < len(actions) else ("", None)
            o = outcomes[i] if i < len(outcomes) else ("", None)
            kinds.add_row(
                a[0], "" if a[1] is None else f"{a[1]:,}", o[0], "" if o[1] is None else f"{o[1]:,}"
            )
        console.print(kinds)
    render_alerts(report, console)


LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}
LEVEL_RANK = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def _span(first: str, last: str) -> str:
    """`2026-11-21 16:17:14 → 16:23:15`; the end's date only when it differs."""
    a = first.replace("T", " ").removesuffix("Z")[:19]
    b = last.replace("T", " ").removesuffix("Z")[:19]
    return f"{a} → {b[11:] if a[:10] == b[:10] else b}"


def render_alerts(report: AnalysisReport, console: Console) -> None:
    alerts = report.sections.get("alerts", [])
    detection = report.sections.get("detection", {})
    title = f"Alerts ({len(alerts)})"
    if detection:
        title += f" from {detection['rules']} rules and {detection['correlations']} correlations"
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("level", "left"),
        ("rule", "left"),
        ("entity", "left"),
        ("count", "right"),
        ("when (UTC)", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    # The worst first, then in time order: what to look at on a bad night comes on top.
    ordered = sorted(alerts, key=lambda a: (-LEVEL_RANK.get(a["level"], 0), a["first_seen"]))
    for a in ordered:
        entity = "\n".join(f"{k}={v}" for k, v in a["entity"].items()) or "-"
        level = a["level"]
        rule = a["rule_name"] + ("" if a.get("new", True) else " [dim](known)[/]")
        table.add_row(
            f"[{LEVEL_STYLE.get(level, '')}]{level}[/]",
            rule,
            entity,
            f"{a['count']:,}",
            _span(a["first_seen"], a["last_seen"]),
        )
    if alerts:
        console.print(table)
    elif detection:
        rules, correlations = detection["rules"], detection["correlations"]
        console.print(f"[green]No alerts[/] ({rules} rules, {correlations} correlations)")
    for item in detection.get("unsupported", [])[:5]:
        console.print(f"[yellow]rule not run[/]: {item['rule']}: {item['reason']}", soft_wrap=True)
    for what, n in detection.get("suppressed", {}).items():
        console.print(f"[dim]suppressed {n}: {what}[/]", soft_wrap=True)


def _ts(ts: datetime | None) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S")
