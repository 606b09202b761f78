"""`vigil run` (the live monitor) and `vigil status`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.common import handles_errors, state, stdout
from vigil.errors import UsageError

# The live monitor (asyncio, the network sources) and rich are imported by the commands:
# this module is imported by every `vigil` command (see vigil.cli.common).
if TYPE_CHECKING:
    from rich.console import Console


@handles_errors
def run_cmd(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Configuration file (also before the command)."),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Enforce the response policy (default: its respond.mode)."),
    ] = False,
) -> None:
    """Follow the configured sources and detect and respond as lines come; SIGTERM
    stops after the lines read so far, SIGHUP reloads the configuration and rules."""
    from vigil.live.daemon import Daemon  # noqa: PLC0415
    from vigil.live.logs import configure  # noqa: PLC0415
    from vigil.live.signals import Flags, install  # noqa: PLC0415

    if config is not None:
        state.config_path = config
        state._config = None
    cfg = state.config
    if not cfg.sources:
        raise UsageError(
            "nothing to follow: add sources to the configuration "
            "(e.g. sources: {auth: {type: file, paths: [/var/log/auth.log]}})"
        )
    handler = configure(cfg.live.log_format, logging.DEBUG if state.debug else logging.INFO)
    flags = Flags()
    restore = install(flags)
    try:
        Daemon(cfg, state.config_path, state_dir=state.state_dir, apply=apply, flags=flags).run()
    finally:
        restore()
        logging.getLogger("vigil").removeHandler(handler)


@handles_errors
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show the live monitor: running or not, its sources with their lag and events/s,
    checkpoints, and the most recent alerts."""
    from vigil.live.status import read_status  # noqa: PLC0415
    from vigil.store.db import DB_NAME, StateDB  # noqa: PLC0415

    if not (state.state_dir / DB_NAME).is_file():
        raise UsageError(f"no state database in {state.state_dir} (has vigil run there?)")
    db = StateDB.in_state_dir(state.state_dir)
    try:
        doc = read_status(db)
    finally:
        db.close()
    if as_json:
        sys.stdout.write(json.dumps(doc, default=str) + "\n")
        return
    _render(doc, stdout())


def _render(doc: dict[str, Any], console: Console) -> None:
    from rich.table import Table  # noqa: PLC0415

    console.print(
        f"[bold]vigil run[/]: {doc.get('state')}"
        + (
            f" (pid {doc['pid']}, since {doc['started_at']}, mode {doc['mode']})"
            if "pid" in doc
            else ""
        )
    )
    if doc.get("updated_at"):
        console.print(f"status written {doc['updated_at']}; metrics {doc.get('metrics') or 'off'}")
    sources = Table(title="Sources", title_justify="left")
    for col in ("name", "kind", "lines", "events", "events/s", "rejected", "dropped", "lag s"):
        sources.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for s in doc.get("sources", []):
        rate = s.get("events_per_second")
        sources.add_row(
            s["name"],
            s["kind"],
            str(s["lines"]),
            str(s["events"]),
            "-" if rate is None else f"{rate:g}",
            str(s["rejected"]),
            str(s["dropped"]),
            f"{s['lag_seconds']:.3f}",
        )
    console.print(sources)
    points = Table(title="Checkpoints", title_justify="left")
    for col in ("source", "path", "line", "offset", "re-read from", "updated"):
        points.add_column(col, overflow="fold")
    for c in doc["checkpoints"]:
        replay = "-" if c["replay_offset"] is None else str(c["replay_offset"])
        points.add_row(
            c["source"], c["path"], str(c["line"]), str(c["offset"]), replay, c["updated_at"]
        )
    console.print(points)
    alerts = Table(title="Recent alerts", title_justify="left")
    for col in ("last seen", "rule", "level", "entity", "count"):
        alerts.add_column(col, overflow="fold")
    for a in doc["recent_alerts"]:
        entity = ", ".join(f"{k}={v}" for k, v in a["entity"].items())
        alerts.add_row(a["last_seen"], a["rule_name"], a["level"], entity, str(a["count"]))
    console.print(alerts)
