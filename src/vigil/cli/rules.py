"""`vigil rules list|check|test`: what rules a run uses, whether rule files are sound, and
what one rule matches in a log and why (the fail2ban-regex habit)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.common import (
    FormatOption,
    MapOption,
    ParserOptionOption,
    TzOption,
    YearOption,
    handles_errors,
    print_error,
    state,
    stdout,
)
from vigil.clock import SystemClock
from vigil.errors import InputDataError, UsageError

# The rule engine (polars, pySigma's models), the pipeline and rich are imported by the
# commands: this module is imported by every `vigil` command (see vigil.cli.common).
if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from vigil.detect.correlation.spec import CorrelationSpec
    from vigil.detect.rulepack import RulePack
    from vigil.detect.sigma.compiler import CompiledRule

rules_app = typer.Typer(help="List, check and try detection rules.", no_args_is_help=True)
SHOW_MATCHES = 10


def _threshold(spec: CorrelationSpec) -> str:
    from vigil.config.durations import format_duration  # noqa: PLC0415

    bounds = " and ".join(f"{b.op} {b.value:g}" for b in spec.bounds) or "all rules"
    return f"{spec.kind.value} {bounds} in {format_duration(spec.timespan)}"


def _row(
    name: str,
    kind: str,
    *,
    rule_id: str | None = None,
    title: str | None = None,
    level: str | None = None,
    applies_to: str | None = None,
    threshold: str | None = None,
    status: str = "ok",
) -> dict[str, Any]:
    return {
        "name": name,
        "id": rule_id,
        "title": title or name,
        "level": level,
        "kind": kind,
        "logsource": applies_to,
        "threshold": threshold,
        "status": status,
    }


def pack_rows(pack: RulePack) -> list[dict[str, Any]]:
    rows = [
        _row(
            r.name,
            "rule",
            rule_id=str(r.rule.id) if r.rule.id else None,
            title=r.title,
            level=r.level,
            applies_to=r.logsource.name,
        )
        for r in pack.compiled
    ]
    rows += [
        _row(
            s.name,
            "correlation",
            rule_id=s.rule_id,
            title=s.title,
            level=s.level,
            applies_to=", ".join(ref.reference for ref in s.rules),
            threshold=_threshold(s),
        )
        for s in pack.correlations
    ]
    rows += [_row(u.title, "rule", status=f"not run: {u.reason}") for u in pack.unsupported]
    rows += [_row(u.title, "correlation", status=f"not run: {u.reason}") for u in pack.refused]
    return rows


@rules_app.command("list")
@handles_errors
def list_rules(
    rules: Annotated[list[str] | None, typer.Option("--rules", "-r", help="More rules.")] = None,
    no_default_rules: Annotated[bool, typer.Option("--no-default-rules")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The rules `vigil analyze` would run, with their thresholds after overrides."""
    from vigil.detect.factory import rule_pack_from_config  # noqa: PLC0415

    pack = rule_pack_from_config(
        state.config,
        rules or [],
        default_pack=not no_default_rules,
        cache_dir=state.state_dir / "cache",
    )
    rows = pack_rows(pack)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"Rules ({len(pack.names)} run)", title_justify="left")
    for col in ("name", "level", "kind", "applies to", "threshold", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"],
            r["level"] or "",
            r["kind"],
            r["logsource"] or "",
            r["threshold"] or "",
            r["status"],
        )
    stdout().print(table)
    for name in pack.disabled:
        stdout().print(f"[dim]disabled in config: {name}[/]")


@rules_app.command("check")
@handles_errors
def check_rules(
    paths: Annotated[list[str], typer.Argument(help="Rule files or folders.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Load and compile rules: counts by logsource, every error (a broken rule: YAML,
    undefined selection, invalid regex, unknown `vigil:` option, duplicate name or id)
    with its file and line, and every valid rule vigil cannot run with the reason.
    Exit 1 when there is an error; rules vigil cannot run alone exit 0."""
    from vigil.detect.rulepack import load_pack  # noqa: PLC0415

    pack = load_pack(paths, include_default=False)
    by_source = Counter(r.logsource.name for r in pack.compiled)
    unsupported = [
        {"rule": u.title, "path": u.path, "reason": u.reason} for u in pack.unsupported
    ] + [{"rule": u.title, "path": u.path, "reason": u.reason} for u in pack.refused]
    doc = {
        "rules": len(pack.compiled),
        "correlations": len(pack.correlations),
        "by_logsource": dict(by_source.most_common()),
        "unsupported": unsupported,
        "errors": [str(e) for e in pack.errors],
    }
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        out = stdout()
        out.print(f"{doc['rules']} rules and {doc['correlations']} correlations compile")
        for source, n in by_source.most_common():
            out.print(f"  {n:>5}  {source}")
        for item in unsupported:
            where = f" ({item['path']})" if item["path"] else ""
            out.print(
                f"not run: {item['rule']}{where}: {item['reason']}", soft_wrap=True, markup=False
            )
        for err in pack.errors:
            out.print(f"error: {err}", soft_wrap=True, markup=False)
    if pack.errors:
        raise typer.Exit(1)


@dataclass
class _Recorder:
    """Keeps the first matching rows of each rule under test."""

    stage: Any
    keys: set[str]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def consume(self, batch: pl.DataFrame) -> None:
        import polars  # noqa: PLC0415

        from vigil.schema.fields import F  # noqa: PLC0415

        for key, frame in self.stage.sigma.matches(batch, self.keys).items():
            # In Int64: a UInt32 sum wraps past 2^32 (`message repeated` counts add up).
            self.counts[key] += int(frame.get_column(F.EVENT_COUNT).cast(polars.Int64).sum())
            kept = self.rows.setdefault(key, [])
            if len(kept) < SHOW_MATCHES:
                cols = [F.LOG_FILE_PATH, F.LOG_FILE_LINE, F.EVENT_COUNT, F.MESSAGE]
                kept += frame.head(SHOW_MATCHES - len(kept)).select(cols).to_dicts()

    def close(self) -> None:
        """Nothing is held back."""


@rules_app.command("test")
@handles_errors
def try_rule(
    rule: Annotated[str, typer.Argument(help="Rule name or id (bundled, configured or --rules).")],
    logs: Annotated[list[str], typer.Argument(help="Log files to run it on.")],
    rules: Annotated[list[str] | None, typer.Option("--rules", "-r", help="More rules.")] = None,
    fmt: FormatOption = None,
    year: YearOption = None,
    tz: TzOption = None,
    mapping: MapOption = None,
    parser_option: ParserOptionOption = None,
) -> None:
    """Run one rule (and the rules it correlates) over logs: its matches and its alerts.
    The logs are read as `vigil analyze` reads them (the same options and configuration)."""

    from vigil.cli.analyze import input_options  # noqa: PLC0415
    from vigil.detect.factory import detection_stage, rule_pack_from_config  # noqa: PLC0415
    from vigil.pipeline.analyze import analyze  # noqa: PLC0415
    from vigil.sources.files import expand_inputs  # noqa: PLC0415

    options = input_options(fmt, year, tz, mapping, parser_option)
    full = rule_pack_from_config(state.config, rules or [], cache_dir=state.state_dir / "cache")
    pack = _only(full, rule)
    clock = SystemClock()
    options.clock = clock
    stage = detection_stage(state.config, pack, clock, None)
    recorder = _Recorder(stage, {r.key for r in pack.compiled})
    errors: list[str] = []
    report = analyze(expand_inputs(logs), options, sinks=[stage, recorder], on_error=errors.append)
    out = stdout()
    out.print(f"{report.lines:,} lines, {report.events:,} events, {report.rejected:,} rejected")
    for compiled in pack.compiled:
        _show_rule(out, compiled, recorder)
    for spec in pack.correlations:
        out.print(
            f"[bold]{spec.name}[/]: {spec.title} — {_threshold(spec)}, "
            f"grouped by {', '.join(spec.group_by) or 'nothing'}"
        )
    alerts = stage.alerts
    out.print(f"[bold]{len(alerts)} alert(s)[/]")
    for a in alerts:
        entity = ", ".join(f"{k}={v}" for k, v in a.entity.items()) or "-"
        out.print(
            f"  {a.rule_name} ({a.level}) {entity}: {a.count} events "
            f"{a.first_seen:%Y-%m-%d %H:%M:%S} → {a.last_seen:%H:%M:%S}"
        )
        for e in a.evidence[:SHOW_MATCHES]:
            out.print(f"    {e.path}:{e.line}  {e.message}", soft_wrap=True, markup=False)
    for message in errors:
        print_error(f"error: {message}")
    if errors:
        raise InputDataError(f"{len(errors)} of {len(report.files)} logs could not be read in full")


def _show_rule(out: Console, compiled: CompiledRule, recorder: _Recorder) -> None:
    from vigil.schema.fields import F  # noqa: PLC0415

    detection = compiled.rule.detection
    selections = {
        name: d.to_plain() if hasattr(d, "to_plain") else str(d)
        for name, d in detection.detections.items()
    }
    out.print(f"[bold]{compiled.name}[/]: {compiled.title} (applies to {compiled.logsource.name})")
    conditions = [str(c) for c in detection.condition]
    out.print(f"  condition: {' | '.join(conditions)}", markup=False)
    for name, sel in selections.items():
        out.print(f"  {name}: {json.dumps(sel, default=str)}", markup=False, soft_wrap=True)
    out.print(f"  matched {recorder.counts[compiled.key]:,} events")
    for row in recorder.rows.get(compiled.key, []):
        weight = (
            f" (x{row[F.EVENT_COUNT]})" if row[F.EVENT_COUNT] and row[F.EVENT_COUNT] > 1 else ""
        )
        out.print(
            f"    {row[F.LOG_FILE_PATH]}:{row[F.LOG_FILE_LINE]}{weight}  {row[F.MESSAGE]}",
            markup=False,
            soft_wrap=True,
        )


def _only(pack: RulePack, wanted: str) -> RulePack:
    """The pack cut down to one rule and, for a correlation, the rules it references."""
    from vigil.detect.rulepack import RulePack  # noqa: PLC0415

    spec = next((s for s in pack.correlations if wanted in (s.name, s.rule_id)), None)
    if spec is not None:
        keys = {k for ref in spec.rules for k in ref.keys}
        base = [r for r in pack.compiled if {r.key, r.name, str(r.rule.id)} & keys]
        return RulePack(compiled=base, correlations=[spec])
    rule = next((r for r in pack.compiled if wanted in (r.name, r.key, str(r.rule.id))), None)
    if rule is None:
        known = ", ".join(sorted(pack.names)) or "none"
        raise UsageError(f"no rule named {wanted!r}; loaded: {known}")
    return RulePack(compiled=[rule])
