"""The `vigil` command line. The only place where errors become exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil import __version__
from vigil.cli.common import (
    FormatOption,
    MapOption,
    ParserOptionOption,
    TzOption,
    YearOption,
    handles_errors,
    state,
    stdout,
)
from vigil.cli.notify import notify_app
from vigil.cli.respond import register
from vigil.cli.rules import rules_app
from vigil.cli.run import run_cmd, status_cmd
from vigil.clock import SystemClock
from vigil.config import DEFAULT_CONFIG_NAME

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
    fmt: FormatOption = None,
    year: YearOption = None,
    tz: TzOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document to stdout.")
    ] = False,
    store: Annotated[
        bool, typer.Option("--store", help="Keep events as Parquet under STATE_DIR/events/.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected lines (JSON lines) to PATH.")
    ] = None,
    mapping: MapOption = None,
    parser_option: ParserOptionOption = None,
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
        bool,
        typer.Option("--apply", help="Answer the alerts and enforce (implies --respond)."),
    ] = False,
    notify: Annotated[
        bool,
        typer.Option("--notify/--no-notify", help="Send to the notify.channels of the config."),
    ] = True,
) -> None:
    """Parse logs, find attacks in them with the rules, summarise; alerts are kept in
    STATE_DIR/vigil.db, events too with --store."""
    # Imported here: `vigil --help` and the other commands do not load polars and the
    # detection engine (see vigil.cli.common).
    from vigil.cli.analyze import run_analyze  # noqa: PLC0415

    run_analyze(
        paths,
        fmt=fmt,
        year=year,
        tz=tz,
        as_json=as_json,
        store=store,
        rejects=rejects,
        mapping=mapping,
        parser_option=parser_option,
        rules=rules,
        no_default_rules=no_default_rules,
        respond=respond,
        apply=apply,
        notify=notify,
    )


@app.command()
def formats() -> None:
    """List the log formats vigil reads."""
    from rich.table import Table  # noqa: PLC0415

    from vigil.parsers.registry import PARSERS  # noqa: PLC0415

    table = Table(title="Formats", title_justify="left")
    table.add_column("name")
    table.add_column("what it reads")
    for name, cls in sorted(PARSERS.items()):
        table.add_row(name, cls.summary)
    stdout().print(table)


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
    from rich.table import Table  # noqa: PLC0415

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
    stdout().print(table)


def main() -> Any:
    return app()
