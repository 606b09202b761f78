"""What `vigil analyze` does once its options are parsed (`vigil.cli.main` holds the
command and its help, and imports this module only when the command runs)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.alerts.documents import write_json
from vigil.cli.common import print_error, state, stderr, stdout
from vigil.cli.respond import delivery_warnings, notify_run, raise_if_failed, respond_to_run
from vigil.clock import SystemClock
from vigil.detect.factory import detection_stage, rule_pack_from_config
from vigil.errors import InputDataError, UsageError
from vigil.parsers.base import check_zone
from vigil.parsers.registry import check_parser_options
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.report import AnalysisReport
from vigil.pipeline.sinks import BatchSink, RejectWriter
from vigil.sources.files import STDIN, expand_inputs
from vigil.store.db import StateDB
from vigil.store.events import ParquetEventStore
from vigil.store.runs import record_run

if TYPE_CHECKING:
    from vigil.respond.model import Action

# Show a progress bar only for inputs at least this large, and only on a terminal.
PROGRESS_MIN_BYTES = 32 << 20


def run_analyze(
    paths: list[str],
    *,
    fmt: str | None,
    year: int | None,
    tz: str | None,
    as_json: bool,
    store: bool,
    rejects: Path | None,
    mapping: list[str] | None,
    parser_option: list[str] | None,
    rules: list[str] | None,
    no_default_rules: bool,
    respond: bool,
    apply: bool,
    notify: bool,
) -> None:
    config = state.config
    options = input_options(fmt, year, tz, mapping, parser_option)
    inputs = expand_inputs(paths)
    if rejects is not None:
        _refuse_overwriting_an_input(rejects, inputs)
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
    actions: list[Action] = []
    if respond or apply:
        actions = respond_to_run(detection.alerts, db, apply=apply)
        report.sections["actions"] = [a.to_json() for a in actions]
    delivery = notify_run(detection.alerts, actions, db) if notify else None
    if delivery is not None:
        report.sections["notifications"] = delivery.to_json()
    record_run(db, "analyze " + " ".join(paths), report)
    db.close()
    for message in errors:
        print_error(f"error: {message}")
    for message in [*delivery_warnings(delivery), *_late_warnings(report)]:
        print_error(f"warning: {message}")
    _emit(report, as_json)
    # An input of blank lines only (a log just rotated) has nothing wrong with it.
    if report.events == 0 and report.lines > sum(f.skipped for f in report.files):
        raise InputDataError("no line of the input could be parsed")
    if actions:
        raise_if_failed(actions)
    if errors:
        # The others were analysed and reported; a cron job still learns of the one lost.
        unread = sum(1 for f in report.files if f.error)
        raise InputDataError(f"{unread} of {len(report.files)} inputs could not be read in full")


def _refuse_overwriting_an_input(rejects: Path, inputs: list[str]) -> None:
    """--rejects is opened for writing before the inputs are read: never one of them."""
    for origin in inputs:
        with suppress(OSError):  # a rejects file that does not exist yet is no input
            if origin != STDIN and os.path.samefile(origin, rejects):
                raise UsageError(f"--rejects {rejects} is one of the inputs; write it elsewhere")


def input_options(
    fmt: str | None,
    year: int | None,
    tz: str | None,
    mapping: list[str] | None,
    parser_option: list[str] | None,
) -> AnalyzeOptions:
    """How to read the inputs, from the command line over the configuration (checked
    before any input is read): what `analyze` and `rules test` share."""
    config = state.config
    tz = tz or config.timezone
    check_zone(tz, "--tz")
    if year is not None and not 1970 <= year <= 2200:
        raise UsageError(f"--year {year} is out of range (1970-2200)")
    options = AnalyzeOptions(
        format=fmt,
        year=year,
        tz=tz,
        parser_options=_parser_options(mapping, parser_option),
        format_options={name: s.as_options() for name, s in config.parsers.items()},
    )
    check_parser_options(options.parser_options, options.format_options, fmt)
    return options


def _late_warnings(report: AnalysisReport) -> list[str]:
    """What was not counted because it came too late for its rule's window, per rule."""
    late: dict[str, int] = report.sections.get("detection", {}).get("late_events", {})
    return [
        f"{n} events were older than rule {rule}'s event time by more than its timespan and "
        "were not counted (lines far out of time order?)"
        for rule, n in sorted(late.items())
    ]


def _emit(report: AnalysisReport, as_json: bool) -> None:
    if as_json:
        # Compact: only then does json use its C encoder (indent=2 was 1.2 s for 6k alerts).
        # Alerts are written one at a time (see write_json).
        write_json(report.to_json(), sys.stdout)
        return
    # Tables only for people: a --json run never loads rich's renderers.
    from vigil.cli.render import render_summary  # noqa: PLC0415
    from vigil.cli.respond import render_actions  # noqa: PLC0415

    console = stdout()
    render_summary(report, console)
    if "actions" in report.sections:
        render_actions(report.sections["actions"], console)


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
        console=stderr(),
        transient=True,
    )
    done: dict[str, int] = {}
    with bar:
        task = bar.add_task("parsing", total=total)

        def advance(path: str, read: int) -> None:
            done[path] = min(read, sizes.get(path, read))
            bar.update(task, completed=sum(done.values()), description=os.path.basename(path))

        yield advance
