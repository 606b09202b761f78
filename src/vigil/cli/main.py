"""The `vigil` command line. The only place where errors become exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

from vigil import __version__
from vigil.alerts.documents import write_json
from vigil.cli.common import handles_errors, state, stderr
from vigil.cli.notify import notify_app
from vigil.cli.render import render_summary
from vigil.cli.respond import (
    delivery_warnings,
    notify_run,
    raise_if_failed,
    register,
    render_actions,
    respond_to_run,
)
from vigil.cli.rules import rules_app
from vigil.cli.run import run_cmd, status_cmd
from vigil.clock import SystemClock
from vigil.config.loader import DEFAULT_CONFIG_NAME
from vigil.detect.factory import detection_stage, rule_pack_from_config
from vigil.errors import InputDataError, UsageError
from vigil.parsers.registry import PARSERS
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.report import AnalysisReport
from vigil.pipeline.sinks import BatchSink, RejectWriter
from vigil.sources.files import STDIN, expand_inputs
from vigil.store.db import StateDB
from vigil.store.events import ParquetEventStore
from vigil.store.runs import record_run

app = typer.Typer(
    name="vigil",
    help="Security log analysis, network monitoring and incident response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Docstrings are wrapped at 100 columns: markdown joins a paragraph's lines again.
    rich_markup_mode="markdown",
)

app.add_typer(rules_app, name="rules")
app.add_typer(notify_app, name="notify")
register(app)
app.command("run")(run_cmd)
app.command("status")(status_cmd)

# Show a progress bar only for inputs at least this large, and only on a terminal.
PROGRESS_MIN_BYTES = 32 << 20


def _version(value: bool) -> None:
    if value:
        print(f"vigil {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            envvar="VIGIL_STATE_DIR",
            help="Where vigil keeps its state (default: var).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="VIGIL_CONFIG",
            help=f"Configuration file (default: ./{DEFAULT_CONFIG_NAME} if it exists).",
        ),
    ] = None,
    version: Annotated[  # noqa: ARG001 - handled by its eager callback
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.debug = debug
    state.state_dir_flag = state_dir
    if config is None and Path(DEFAULT_CONFIG_NAME).is_file():
        config = Path(DEFAULT_CONFIG_NAME)
    state.config_path = config
    state._config = None


@app.command("analyze")
@handles_errors
def analyze_cmd(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories, globs, .gz files, or - for stdin.")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Skip detection and read every input as FORMAT."),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Year of syslog timestamps that carry none.")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Zone of timestamps that carry none (default: config, else UTC)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document to stdout.")
    ] = False,
    store: Annotated[
        bool, typer.Option("--store", help="Keep events as Parquet under STATE_DIR/events/.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected lines (JSON lines) to PATH.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="CSV column to field, COLUMN=FIELD (repeatable)."),
    ] = None,
    parser_option: Annotated[
        list[str] | None,
        typer.Option("--parser-option", "-o", help="Parser option KEY=VALUE (repeatable)."),
    ] = None,
    rules: Annotated[
        list[str] | None,
        typer.Option("--rules", "-r", help="More Sigma rule files or folders (repeatable)."),
    ] = None,
    no_default_rules: Annotated[
        bool, typer.Option("--no-default-rules", help="Do not load vigil's bundled rule pack.")
    ] = False,
    respond: Annotated[
        bool, typer.Option("--respond", help="Answer the alerts by the response policy (dry-run).")
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="With --respond: enforce, run the responders.")
    ] = False,
    notify: Annotated[
        bool,
        typer.Option("--notify/--no-notify", help="Send to the notify.channels of the config."),
    ] = True,
) -> None:
    """Parse logs, find attacks in them with the rules, summarise; alerts are kept in
    STATE_DIR/vigil.db, events too with --store."""
    config = state.config
    tz = tz or config.timezone
    _check_tz(tz)
    if year is not None and not 1970 <= year <= 2200:
        raise UsageError(f"--year {year} is out of range (1970-2200)")
    options = AnalyzeOptions(
        format=fmt,
        year=year,
        tz=tz,
        parser_options=_parser_options(mapping, parser_option),
        format_options={name: s.as_options() for name, s in config.parsers.items()},
    )
    inputs = expand_inputs(paths)
    pack = rule_pack_from_config(
        config,
        rules or [],
        default_pack=not no_default_rules,
        cache_dir=state.state_dir / "cache",
    )
    clock = SystemClock()
    db = StateDB.in_state_dir(state.state_dir)
    detection = detection_stage(config, pack, clock, db)
    sinks: list[BatchSink] = [detection]
    if store:
        sinks.append(ParquetEventStore(state.state_dir / "events"))
    with ExitStack() as stack:
        writer = None
        if rejects is not None:
            try:
                out = stack.enter_context(open(rejects, "wb"))
            except OSError as e:
                raise UsageError(f"cannot write rejects to {rejects}: {e.strerror}") from e
            writer = RejectWriter(out)
        progress = stack.enter_context(_progress(inputs, enabled=not as_json))
        errors: list[str] = []
        report = analyze(
            inputs, options, sinks=sinks, rejects=writer, progress=progress, on_error=errors.append
        )
    report.sections["alerts"] = detection.alerts_json()
    report.sections["detection"] = detection.summary()
    actions = respond_to_run(detection.alerts, db, apply=apply) if respond or apply else []
    if respond or apply:
        report.sections["actions"] = [a.to_json() for a in actions]
    delivery = notify_run(detection.alerts, actions, db) if notify else None
    if delivery is not None:
        report.sections["notifications"] = delivery.to_json()
    record_run(db, "analyze " + " ".join(paths), report)
    db.close()
    for message in errors:
        stderr.print(f"error: {message}", markup=False, soft_wrap=True)
    for message in delivery_warnings(delivery):
        stderr.print(f"warning: {message}", markup=False, soft_wrap=True)
    _emit(report, as_json)
    if report.events == 0:
        raise InputDataError("no line of the input could be parsed")
    raise_if_failed(actions)


@app.command()
def formats() -> None:
    """List the log formats vigil reads."""
    table = Table(title="Formats", title_justify="left")
    table.add_column("name")
    table.add_column("what it reads")
    for name, cls in sorted(PARSERS.items()):
        table.add_row(name, cls.summary)
    Console().print(table)


@app.command()
@handles_errors
def suppressions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the suppressions of vigil.yaml, and whether each still applies."""
    now = SystemClock().now()
    items = [s.build() for s in state.config.suppressions]
    if as_json:
        doc = [
            {
                "rule": s.rule,
                "match": s.match,
                "reason": s.reason,
                "expires": s.expires.isoformat() if s.expires else None,
                "active": s.active(now),
            }
            for s in items
        ]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    table = Table(
        title=f"Suppressions ({state.config_path or 'no config file'})", title_justify="left"
    )
    for col in ("rule", "match", "reason", "expires", "state"):
        table.add_column(col, overflow="fold")
    for s in items:
        table.add_row(
            s.rule,
            ", ".join(f"{k}={v}" for k, v in s.match.items()) or "any",
            s.reason,
            s.expires.isoformat() if s.expires else "never",
            "active" if s.active(now) else "[dim]expired[/]",
        )
    Console().print(table)


def _emit(report: AnalysisReport, as_json: bool) -> None:
    if as_json:
        # Compact: only then does json use its C encoder (indent=2 was 1.2 s for 6k alerts).
        # Alerts are written one at a time (see write_json).
        write_json(report.to_json(), sys.stdout)
        return
    # Piped or captured output has no terminal width; rich would assume 80 columns and
    # fold every address in two.
    width = None if sys.stdout.isatty() else 132
    console = Console(highlight=False, width=width)
    render_summary(report, console)
    if "actions" in report.sections:
        render_actions(report.sections["actions"], console)


def _check_tz(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def _parser_options(mapping: list[str] | None, extra: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for flag, items, prefix in (("--map", mapping, "map."), ("--parser-option", extra, "")):
        for item in items or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"{flag} wants KEY=VALUE, got {item!r}")
            options[prefix + key.strip()] = value.strip()
    return options


@contextmanager
def _progress(inputs: list[str], enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    sizes = {p: os.path.getsize(p) for p in inputs if p != STDIN and os.path.isfile(p)}
    total = sum(sizes.values())
    if not enabled or not sys.stderr.isatty() or total < PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.progress import (  # noqa: PLC0415 - only a terminal run on a large input needs it
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    done: dict[str, int] = {}
    with bar:
        task = bar.add_task("parsing", total=total)

        def advance(path: str, read: int) -> None:
            done[path] = min(read, sizes.get(path, read))
            bar.update(task, completed=sum(done.values()), description=os.path.basename(path))

        yield advance


def main() -> Any:
    return app()
