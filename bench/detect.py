"""What detection costs in `vigil analyze`: the bundled rule pack against the same run
with `--no-default-rules`, on 1M-line sshd, Apache and firewall logs, fail2ban-regex on
the sshd log, and peak RSS with the pack on a 5M-line sshd log.

    python bench/detect.py                  # 1M sshd/apache/firewall + 5M sshd
    python bench/detect.py --no-big --no-peers --lines 200000 --formats sshd

Each tool runs as a subprocess measured by `bench/parse.py`'s `measure` (wall time, CPU
time and peak RSS of that very child from `os.wait4`). Every vigil run gets an empty
temporary state directory, so no run finds the alerts of an earlier one in its store;
like `bench/parse.py`, vigil runs with its bytecode and its compiled rule pack cached.

The logs are generated into bench/out/ as `detect_<kind>_<size>.log`, starting on
DETECT_START, and reused while their truth matches: event times in the past. The live
monitor's correlation engine ignores events dated more than 15 minutes after the clock (a
forged date must not move event time ahead; `vigil analyze`, a replay, does not), and
`bench/parse.py`'s logs start on the generator's default day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so `bench.*` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loggen import GENERATOR_VERSION
from bench.parse import (
    FILES,
    ROOT,
    VIGIL,
    Run,
    _short,
    bench_arguments,
    checked_formats,
    fail2ban_run,
    fresh_state,
    measure,
    table,
    vigil_env,
    warm,
)
from bench.parse import ensure_log as parse_log

DETECT_START = "2026-01-05T00:00:00"
# Detection may cost at most this share of the parse-only time (wall and CPU).
COST_TARGET = 0.5
SSHD_TARGET = 700_000
RSS_TARGET_MB = 400


def ensure_log(fmt: str, lines: int, seed: int, out_dir: Path) -> Path:
    """The generated log starting on DETECT_START, reused while its truth still says so."""
    path = out_dir / f"detect_{FILES[fmt]}_{_short(lines)}.log"
    truth_file = path.with_name(path.name + ".truth.json")
    if path.is_file() and truth_file.is_file():
        truth = json.loads(truth_file.read_text())
        current = (fmt, lines, seed, path.stat().st_size, DETECT_START[:10])
        recorded = (
            truth["format"],
            truth["lines"],
            truth["seed"],
            truth.get("log_bytes"),
            str(truth.get("start", ""))[:10],
        )
        if current == recorded and truth["generator"].endswith(f"v{GENERATOR_VERSION}"):
            return path
    began = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "bench" / "generate.py"), fmt, "--lines", str(lines)]
    cmd += ["--seed", str(seed), "--start", DETECT_START, "--out", str(path)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(f"  generated {path.relative_to(ROOT)} in {time.perf_counter() - began:.1f} s")
    return path


def vigil_run(fmt: str, path: Path, lines: int, *, rules: bool, force: bool = False) -> Run:
    """`vigil analyze --json` with the pack (`rules`) or with `--no-default-rules`."""
    label = f"vigil {fmt} " + ("+ pack" if rules else "parse only")
    warm(path)
    with fresh_state() as state:
        cmd = [str(VIGIL), "--state-dir", state, "analyze", "--json"]
        cmd += [*(["--format", fmt] if force else []), *([] if rules else ["--no-default-rules"])]
        run, stdout, stderr = measure(label, [*cmd, str(path)], lines, env=vigil_env())
    try:
        report = json.loads(stdout)
        events = sum(f.get("events", 0) for f in report["files"])
        rejected = sum(f.get("rejected", 0) for f in report["files"])
        run.note += f"{events:,} events, {rejected:,} rejected"
        detection = report.get("detection", {})
        if rules:
            by_rule: dict[str, int] = {}
            for alert in report.get("alerts", []):
                by_rule[alert["rule_name"]] = by_rule.get(alert["rule_name"], 0) + 1
            run.note += (
                f"; {detection.get('rules', 0)} rules + {detection.get('correlations', 0)} "
                f"correlations, {sum(by_rule.values()):,} alerts"
            )
            if by_rule:
                run.note += " (" + ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items())) + ")"
            if detection.get("late_events"):
                run.note += f"; late events {detection['late_events']}"
    except (json.JSONDecodeError, KeyError):
        run.note += f"exit {run.exit_code}: {stderr.strip()[-200:]}"
    return run


def startup_run(out_dir: Path, seed: int) -> Run:
    """Interpreter start-up, imports and loading the pack, on a 100-line file, warm (the
    first run fills the bytecode and rule-pack caches; see bench/parse.py)."""
    path = parse_log("firewall", 100, seed, out_dir)
    vigil_run("firewall", path, 100, rules=True)
    run = vigil_run("firewall", path, 100, rules=True)
    run.label = "vigil start-up + pack (100 lines)"
    return run


def verdicts(pairs: dict[str, tuple[Run, Run]], f2b: Run | None, big: Run | None) -> list[str]:
    out = []
    for fmt, (parse, full) in pairs.items():
        wall = (full.wall_s - parse.wall_s) / parse.wall_s if parse.wall_s else 0.0
        cpu = (full.cpu_s - parse.cpu_s) / parse.cpu_s if parse.cpu_s else 0.0
        ok = "met" if max(wall, cpu) < COST_TARGET else "NOT met"
        per_line = (full.cpu_s - parse.cpu_s) / full.lines * 1e6 if full.lines else 0.0
        out.append(
            f"detection cost {fmt}: +{wall:.0%} wall, +{cpu:.0%} CPU over parse only "
            f"({per_line:.2f} CPU-us per line; target < {COST_TARGET:.0%}) -> {ok}"
        )
    if "sshd" in pairs:
        full = pairs["sshd"][1]
        ok = "met" if full.per_s >= SSHD_TARGET else "NOT met"
        out.append(
            f"target sshd end to end with the pack: >= {SSHD_TARGET:,} lines/s wall -> "
            f"{full.per_s:,.0f} ({ok})"
        )
        if f2b is not None:
            out.append(
                f"vigil + pack / fail2ban-regex (sshd): {full.per_s / f2b.per_s:.1f}x wall, "
                f"{full.per_cpu_s / f2b.per_cpu_s:.1f}x per CPU-second"
            )
    if big is not None:
        ok = "met" if big.peak_rss_mb < RSS_TARGET_MB else "NOT met"
        out.append(
            f"target peak RSS with the pack on {big.lines:,} sshd lines: < {RSS_TARGET_MB} MB "
            f"-> {big.peak_rss_mb:.0f} MB ({ok})"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, peers="fail2ban-regex")
    args = parser.parse_args(argv)
    formats = checked_formats(parser, args.formats)
    runs: list[Run] = [startup_run(args.out, args.seed)]
    pairs: dict[str, tuple[Run, Run]] = {}
    f2b = None
    for fmt in formats:
        path = ensure_log(fmt, args.lines, args.seed, args.out)
        parse = vigil_run(fmt, path, args.lines, rules=False, force=args.force_format)
        full = vigil_run(fmt, path, args.lines, rules=True, force=args.force_format)
        pairs[fmt] = (parse, full)
        runs += [parse, full]
        if fmt == "sshd" and not args.no_peers:
            f2b = fail2ban_run(path, args.lines)
            if f2b is not None:
                runs.append(f2b)
    big = None
    if not args.no_big and "sshd" in formats:
        path = ensure_log("sshd", args.big_lines, args.seed, args.out)
        big = vigil_run("sshd", path, args.big_lines, rules=True, force=args.force_format)
        big.label = f"vigil sshd {_short(args.big_lines)} + pack"
        runs.append(big)
    print()
    print(table(runs))
    print()
    for line in verdicts(pairs, f2b, big):
        print(line)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end (2 cores are shared)")
    if args.json:
        figures: list[dict[str, Any]] = [
            {**asdict(r), "lines_per_s": r.per_s, "lines_per_cpu_s": r.per_cpu_s} for r in runs
        ]
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
