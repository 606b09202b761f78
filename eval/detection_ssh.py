"""`make eval` detection, SSH truth: the addresses `ssh_bruteforce` flags against an
independent reference (`detection_ssh_reference`), on two real auth logs and a large
generated one with planted attackers whose truth also gives `must_ban`.

Target: precision = recall = 1.00 on every set. Misses and false positives are listed
with what the reference counted for the address and the events vigil made of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.generate import generate
from rich.table import Table

from eval.base import EvalContext, EvalResult
from eval.detection_run import (
    DetectionRun,
    detect,
    eval_pack,
    missing_rules,
    normalize_ip,
    pack_source,
    ratio,
)
from eval.detection_ssh_reference import THRESHOLD, WINDOW, Reference, reference

NAME = "detection-ssh"
RULE = "ssh_bruteforce"
REAL_LOGS = (("loghub", "OpenSSH_2k.log"), ("elastic_examples", "auth.log"))
# Several read blocks (so windows cross batch boundaries) and hundreds of actors of each
# class, yet quick: about 3 s with the run and the reference.
SYNTHETIC_LINES = 300_000
SYNTHETIC_SEED = 7
# In the past of any clock this runs on, so no event is "from the future" to the engine.
SYNTHETIC_START = datetime(2026, 3, 1, tzinfo=UTC)
LISTED = 15


@dataclass
class SetResult:
    label: str
    lines: int = 0
    reference: Reference | None = None
    flagged: set[str] = field(default_factory=set)
    # The generator's truth, for the synthetic set: address → class, and must_ban.
    classes: dict[str, str] = field(default_factory=dict)
    must_ban: set[str] | None = None
    run: DetectionRun | None = None
    missing: str | None = None

    @property
    def expected(self) -> set[str]:
        return self.reference.flagged if self.reference is not None else set()

    @property
    def true_positives(self) -> set[str]:
        return self.flagged & self.expected

    @property
    def misses(self) -> set[str]:
        return self.expected - self.flagged

    @property
    def false_positives(self) -> set[str]:
        return self.flagged - self.expected

    @property
    def precision(self) -> float | None:
        return ratio(len(self.true_positives), len(self.flagged))

    @property
    def recall(self) -> float | None:
        return ratio(len(self.true_positives), len(self.expected))


def evaluate(ctx: EvalContext) -> EvalResult:
    console = ctx.console
    console.rule(f"[bold]{NAME}[/]: {RULE} against a reference computed from the raw lines")
    pack = eval_pack()
    absent = missing_rules(pack, [RULE])
    if absent:
        console.print(f"rule {RULE} is not in {pack_source()}: skipped")
        return EvalResult(NAME, "skipped", f"{RULE} not in the pack")
    sets: list[SetResult] = []
    for folder, name in REAL_LOGS:
        path = ctx.datasets / folder / name
        if not path.is_file():
            sets.append(SetResult(f"{folder}/{name}", missing="dataset missing"))
            continue
        sets.append(measure(f"{folder}/{name}", path, fmt="sshd"))
    sets.append(synthetic(ctx.workdir, SYNTHETIC_LINES))
    render(ctx, sets)
    line = summary(sets)
    console.print(f"{NAME}: {line}", markup=False)
    return EvalResult(NAME, "ok", line, {"sets": [to_json(s) for s in sets]})


def measure(
    label: str, path: Path, *, fmt: str | None = "sshd", year: int | None = None
) -> SetResult:
    ref = reference(path) if year is None else reference(path, year)
    run = detect([path], fmt=fmt)
    return SetResult(label, ref.lines, ref, run.flagged({RULE}), run=run)


def synthetic(workdir: Path, lines: int) -> SetResult:
    """A generated auth.log with every planted class (bursts, IPv6, sprays, slow, 4 in
    10 minutes, 5 over about 9 minutes, rsyslog-collapsed repeats, benign typos)."""
    path = workdir / "synthetic-auth.log"
    generated = generate("sshd", lines, seed=SYNTHETIC_SEED, start=SYNTHETIC_START)
    truth = generated.write(path)
    del generated
    result = measure(
        f"generated auth.log ({lines:,} lines, seed {SYNTHETIC_SEED})",
        path,
        year=int(truth["year"]),
    )
    result.classes = {normalize_ip(a["ip"]): a["class"] for a in truth["actors"]}
    result.must_ban = {normalize_ip(ip) for ip in truth["must_ban"]}
    path.unlink()
    path.with_name(path.name + ".truth.json").unlink()
    return result


def render(ctx: EvalContext, sets: list[SetResult]) -> None:
    console = ctx.console
    table = Table(title=f"{RULE}: >= {THRESHOLD} attempts within {_minutes()} (both ends included)")
    for col in ("set", "lines", "attempts", "sources", "reference", "vigil", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col == "set" else "right")
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    for s in sets:
        if s.reference is None:
            table.add_row(s.label, *["-"] * 10, end_section=False)
            continue
        r = s.reference
        table.add_row(
            s.label,
            f"{s.lines:,}",
            f"{r.attempts:,}",
            f"{len(r.totals):,}",
            f"{len(s.expected):,}",
            f"{len(s.flagged):,}",
            f"{len(s.true_positives):,}",
            f"{len(s.false_positives):,}",
            f"{len(s.misses):,}",
            _fmt(s.precision),
            _fmt(s.recall),
        )
    console.print(table)
    console.print(
        f"Rules: {pack_source()}. Reference: plain Python over the raw lines with its own "
        "regex (see eval/detection_ssh_reference.py); vigil: the pipeline and detection stage."
    )
    for s in sets:
        if s.missing:
            console.print(f"  {s.label}: {s.missing}")
            continue
        _notes(ctx, s)


def _notes(ctx: EvalContext, s: SetResult) -> None:
    console = ctx.console
    r = s.reference
    assert r is not None
    assert s.run is not None
    if r.undated:
        console.print(f"  {s.label}: {r.undated} attempt lines have no valid date (not counted)")
    for error in s.run.errors:
        console.print(f"  {s.label}: vigil could not read the input: {error}")
    if s.run.late_events:
        console.print(f"  {s.label}: events vigil ignored as late: {s.run.late_events}")
    if s.must_ban is not None:
        _against_truth(ctx, s)
    for what, addresses in (("missed", s.misses), ("false positive", s.false_positives)):
        shown = sorted(addresses)
        limit = len(shown) if ctx.verbose else LISTED
        for ip in shown[:limit]:
            console.print(f"  {s.label}: {what} {ip}: {_why(s, ip)}", markup=False)
        if len(shown) > limit:
            console.print(f"  {s.label}: ... {len(shown) - limit} more {what} (-v lists all)")


def _against_truth(ctx: EvalContext, s: SetResult) -> None:
    """The generator's must_ban (attempts less than 600 s apart) next to the reference
    (both ends included): they differ only for a window of exactly 10 minutes."""
    console = ctx.console
    assert s.must_ban is not None
    differ = s.must_ban ^ s.expected
    console.print(
        f"  {s.label}: reference = generator truth must_ban for "
        f"{len(s.must_ban) - len(s.must_ban - s.expected):,} of {len(s.must_ban):,} addresses"
        + (f"; differ on {len(differ)}: {', '.join(sorted(differ)[:LISTED])}" if differ else "")
    )
    table = Table(title="generated auth.log by planted class")
    for col in ("class", "addresses", "must_ban", "vigil flagged", "FN", "FP"):
        table.add_column(col, justify="left" if col == "class" else "right")
    by_class: dict[str, list[str]] = {}
    for ip in sorted(s.reference.totals if s.reference else {}):
        by_class.setdefault(s.classes.get(ip, "benign"), []).append(ip)
    for cls, ips in sorted(by_class.items()):
        table.add_row(
            cls,
            f"{len(ips):,}",
            f"{sum(ip in s.must_ban for ip in ips):,}",
            f"{sum(ip in s.flagged for ip in ips):,}",
            f"{sum(ip in s.misses for ip in ips):,}",
            f"{sum(ip in s.false_positives for ip in ips):,}",
        )
    console.print(table)


def _why(s: SetResult, ip: str) -> str:
    r = s.reference
    assert r is not None
    assert s.run is not None
    parts = [f"reference {r.totals.get(ip, 0)} attempts, at most {r.peaks.get(ip, 0)} in a window"]
    if ip in r.crossings:
        parts.append(f"threshold first reached {r.crossings[ip]:%b %d %H:%M:%S}")
    if s.classes:
        parts.append(f"class {s.classes.get(ip, 'benign')}")
    actions = s.run.actions.get(ip)
    if actions:
        parts.append("vigil events " + ", ".join(f"{k} {n}" for k, n in actions.most_common(4)))
    else:
        parts.append("vigil made no event with this source.ip")
    return "; ".join(parts)


def summary(sets: list[SetResult]) -> str:
    done = [s for s in sets if s.reference is not None]
    if not done:
        return "no set evaluated"
    parts = [f"{s.label.split(' (')[0]} P={_fmt(s.precision)} R={_fmt(s.recall)}" for s in done]
    return f"{RULE}: " + ", ".join(parts)


def to_json(s: SetResult) -> dict[str, Any]:
    if s.reference is None:
        return {"set": s.label, "status": s.missing}
    doc: dict[str, Any] = {
        "set": s.label,
        "lines": s.lines,
        "attempts": s.reference.attempts,
        "sources_with_attempts": len(s.reference.totals),
        "reference_flagged": len(s.expected),
        "vigil_flagged": len(s.flagged),
        "precision": s.precision,
        "recall": s.recall,
        "missed": sorted(s.misses),
        "false_positives": sorted(s.false_positives),
    }
    if s.must_ban is not None:
        doc["must_ban"] = len(s.must_ban)
        doc["reference_vs_must_ban_differ"] = sorted(s.must_ban ^ s.expected)
    return doc


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _minutes() -> str:
    return f"{int(WINDOW.total_seconds() // 60)} min"
