"""Run vigil's detection over an input in process, as `vigil analyze` does, and read the
alerts back in the shapes the detection evaluations compare: flagged addresses per rule,
and the lines each alert's evidence names.

The stage is the real one (`DetectionStage` over the pipeline's Batches, closed at the
end of the input) with an in-memory gate, so nothing is stored and no earlier run can
turn an alert into a "known" one. Two settings differ from `vigil analyze` on purpose:
evidence is not capped (an evaluation that asks "did an alert name this line?" must see
every line), and throttling is off (each episode keeps its own alert and times).

The rules are vigil's bundled pack, or the rule files and folders listed in
`$VIGIL_EVAL_RULES` (separated by `:`) instead of it, to evaluate another pack.
"""

from __future__ import annotations

import io
import ipaddress
import os
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path

import polars as pl

from vigil.alerts.gate import AlertGate
from vigil.alerts.model import Alert
from vigil.clock import Clock, SystemClock
from vigil.detect.rulepack import RulePack, load_pack
from vigil.detect.stage import DetectionStage
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.report import AnalysisReport
from vigil.pipeline.sinks import RejectWriter
from vigil.schema.fields import F

RULES_ENV = "VIGIL_EVAL_RULES"
# Large enough for every line of every evaluated input; evidence is a tuple per alert.
ALL_EVIDENCE = 10_000_000
_REJECTS = {"file": pl.String, "line": pl.Int64, "reason": pl.String}


@cache
def eval_pack() -> RulePack:
    """The pack the evaluations run: `$VIGIL_EVAL_RULES` if set, else the bundled one."""
    listed = os.environ.get(RULES_ENV, "")
    paths = [p for p in listed.split(os.pathsep) if p]
    return load_pack(paths, include_default=not paths)


def pack_source() -> str:
    """How the report names the rules it ran."""
    listed = os.environ.get(RULES_ENV, "")
    return f"${RULES_ENV} ({listed})" if listed else "the bundled pack (rules/)"


def missing_rules(pack: RulePack, wanted: Collection[str]) -> list[str]:
    """The rules of `wanted` that the pack does not hold (compiled or correlation)."""
    have = set(pack.names)
    return sorted(set(wanted) - have)


_KIND_COLUMNS = (F.EVENT_ACTION, F.HTTP_RESPONSE_STATUS_CODE, F.EVENT_DATASET)


class _EventTally:
    """Per source address, the kinds of events vigil made of its lines: the evaluations
    quote them to say why an address was not flagged."""

    def __init__(self) -> None:
        self.actions: dict[str, Counter[str]] = {}

    def consume(self, batch: pl.DataFrame) -> None:
        if F.SOURCE_IP not in batch.columns:
            return
        # What the event is: its action, else its HTTP status, else its dataset.
        kinds = [
            pl.col(F.EVENT_ACTION),
            pl.format("http {}", pl.col(F.HTTP_RESPONSE_STATUS_CODE)),
            pl.col(F.EVENT_DATASET),
        ]
        action = pl.coalesce(
            [k for k, c in zip(kinds, _KIND_COLUMNS, strict=True) if c in batch.columns]
            + [pl.lit("(unknown)")]
        )
        counted = (
            batch.lazy()
            .filter(pl.col(F.SOURCE_IP).is_not_null())
            .group_by(pl.col(F.SOURCE_IP).cast(pl.String).alias("ip"), action.alias("action"))
            .agg(pl.len().alias("n"))
            .collect()
        )
        # One row per (address, action) pair of the batch, not per event.
        for ip, kind, n in counted.iter_rows():
            self.actions.setdefault(normalize_ip(ip), Counter())[kind] += n

    def close(self) -> None:
        """Nothing is held between batches."""


@dataclass
class DetectionRun:
    alerts: list[Alert]
    report: AnalysisReport
    # Per normalised source address: event.action → events (see `_EventTally`).
    actions: dict[str, Counter[str]] = field(default_factory=dict)
    late_events: dict[str, int] = field(default_factory=dict)
    # (file, line) → the reason the parser rejected the line.
    rejects: dict[tuple[str, int], str] = field(default_factory=dict)

    def flagged(self, rules: Collection[str], entity: str = F.SOURCE_IP) -> set[str]:
        """Normalised addresses that alerts of `rules` name as their entity."""
        out: set[str] = set()
        for alert in self.alerts:
            value = alert.entity.get(entity)
            if alert.rule_name in rules and value is not None:
                out.add(normalize_ip(str(value)))
        return out

    def rules_by_line(self) -> dict[tuple[str, int], set[str]]:
        """(file, line) → names of the rules whose alerts hold that line as evidence."""
        out: dict[tuple[str, int], set[str]] = {}
        for alert in self.alerts:
            for ev in alert.evidence:
                if ev.path is not None and ev.line is not None:
                    out.setdefault((ev.path, ev.line), set()).add(alert.rule_name)
        return out

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.report.files)

    @property
    def errors(self) -> list[str]:
        return [f"{f.path}: {f.error}" for f in self.report.files if f.error]


def detect(
    paths: Sequence[str | Path],
    *,
    fmt: str | None = None,
    pack: RulePack | None = None,
    year: int | None = None,
    clock: Clock | None = None,
) -> DetectionRun:
    """The pipeline with the detection stage over `paths` (one log, in this order)."""
    clock = clock or SystemClock()
    pack = pack if pack is not None else eval_pack()
    gate = AlertGate(clock, throttle=timedelta(0), max_evidence=ALL_EVIDENCE)
    stage = DetectionStage(pack, gate, clock, max_evidence=ALL_EVIDENCE)
    tally = _EventTally()
    options = AnalyzeOptions(format=fmt, year=year, clock=clock)
    out = io.BytesIO()
    report = analyze(
        [str(p) for p in paths], options, sinks=[stage, tally], rejects=RejectWriter(out)
    )
    late = {s.rule_name: s.late for s in stage.correlation.stats() if s.late}
    run = DetectionRun(stage.alerts, report, tally.actions, late)
    if out.tell():
        for row in pl.read_ndjson(out.getvalue(), schema=_REJECTS).iter_rows():
            run.rejects[(row[0], row[1])] = row[2]
    return run


def normalize_ip(text: str) -> str:
    """One spelling per address (IPv6 compressed, lower case); other text unchanged."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return text.strip()


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
