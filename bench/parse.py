"""Parse throughput and memory of `vigil analyze`, against fail2ban-regex and ripgrep.

    python bench/parse.py                 # 1M sshd/apache/firewall + 5M sshd (memory check)
    python bench/parse.py --no-big        # skip the 5M file
    python bench/parse.py --lines 200000 --formats sshd --no-peers

Logs are generated (deterministically, by bench/generate.py in a subprocess) into
bench/out/ and reused while their truth file still matches. Each tool runs as a subprocess;
its CPU time and peak RSS come from `os.wait4` on that very child, so an earlier, bigger
child cannot leak into a later figure (`getrusage(RUSAGE_CHILDREN).ru_maxrss` is a maximum
over *all* children so far). Linux also carries the parent's RSS high-water mark into a
child's `ru_maxrss` at exec, so this script imports neither numpy nor polars and stays
small; the table says when a figure is not above that floor. Wall time includes
interpreter start-up; the start-up row measures it on a 100-line file.

vigil runs as an installed vigil runs: with its modules' bytecode (pip compiles it when
it installs; here it is written under bench/out/pycache on the first run, whatever
PYTHONDONTWRITEBYTECODE says) and with its compiled rule pack in the cache of its state
directory (bench/out/vigil-cache, linked into each run's fresh state directory). The
start-up row runs twice and reports the second, warm run; the first fills both caches.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so `bench.loggen` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loggen import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parent.parent
VIGIL = ROOT / ".venv" / "bin" / "vigil"
FILES = {"sshd": "auth", "apache": "access", "firewall": "firewall"}
F2B_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")
# What fail2ban's sshd filter (mode normal) counts as failures, as one Rust regex for `rg -c`.
SSHD_FAILURES = (
    r"sshd\[\d+\]: (?:Failed \S+ for (?:invalid user )?\S* from \S+ port \d+"
    r"|Invalid user \S* from \S+ port \d+"
    r"|error: maximum authentication attempts exceeded"
    r"|Disconnecting: Too many authentication failures)"
)
TARGETS = {"sshd": 1_000_000, "apache": 500_000}
RSS_TARGET_MB = 400
INSTALL_HINT = "install with: sudo bench/setup.sh   (apt-get install -y fail2ban ripgrep)"


@dataclass
class Run:
    label: str
    lines: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    note: str = ""
    # Cores other processes kept busy during the run (from /proc/stat): on a shared box a
    # wall figure means little when this is high; compare lines per CPU-second then.
    other_cores: float = 0.0

    @property
    def per_s(self) -> float:
        return self.lines / self.wall_s if self.wall_s else 0.0

    @property
    def per_cpu_s(self) -> float:
        return self.lines / self.cpu_s if self.cpu_s else 0.0


def measure(
    label: str,
    cmd: list[str],
    lines: int,
    *,
    stdout_to: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Run, str, str]:
    """Run `cmd`, wait for exactly that child with wait4, return its figures and output
    (its stdout goes to `stdout_to` instead when given, and "" is returned for it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        target = open(stdout_to, "wb") if stdout_to else out  # noqa: SIM115 - closed below
        busy_before = _busy_cpu_s()
        began = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=target, stderr=err, env=env)
        finally:
            if stdout_to:
                target.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        after = _busy_cpu_s()
        busy = after - busy_before if after is not None and busy_before is not None else None
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    run = Run(
        label=label,
        lines=lines,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        exit_code=proc.returncode,
    )
    if busy is not None and wall > 0:
        run.other_cores = max(0.0, busy - run.cpu_s) / wall
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if run.peak_rss_mb <= floor:
        run.note = f"(RSS not above this script's own {floor:.0f} MB) "
    return run, stdout, stderr


def _busy_cpu_s() -> float | None:
    """CPU seconds all processes have used since boot (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def ensure_log(fmt: str, lines: int, seed: int, out_dir: Path) -> Path:
    """The generated log, reused when its truth says it is this format, size and seed."""
    path = out_dir / f"{FILES[fmt]}_{_short(lines)}.log"
    truth_file = path.with_name(path.name + ".truth.json")
    if path.is_file() and truth_file.is_file():
        truth = json.loads(truth_file.read_text())
        current = (fmt, lines, seed, path.stat().st_size)
        recorded = (truth["format"], truth["lines"], truth["seed"], truth.get("log_bytes"))
        if current == recorded and truth["generator"].endswith(f"v{GENERATOR_VERSION}"):
            return path
    began = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "bench" / "generate.py"), fmt, "--lines", str(lines)]
    subprocess.run(
        [*cmd, "--seed", str(seed), "--out", str(path)], check=True, stdout=subprocess.DEVNULL
    )
    print(f"  generated {path.relative_to(ROOT)} in {time.perf_counter() - began:.1f} s")
    return path


def warm(path: Path) -> None:
    """Read the file once, so that whichever run comes first does not pay for the disk:
    every run then reads it from the page cache."""
    with open(path, "rb") as f:
        deque(iter(lambda: f.read(8 << 20), b""), maxlen=0)


def vigil_env() -> dict[str, str]:
    """The environment of a vigil child: bytecode kept under bench/out/pycache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(ROOT / "bench" / "out" / "pycache")
    return env


@contextmanager
def fresh_state() -> Iterator[str]:
    """A fresh state directory for one run (alerts stored by an earlier run would change
    what the detection stage does: deduplication against stored alerts), sharing the
    compiled rule pack's cache with the other runs, as one state directory keeps it."""
    cache = ROOT / "bench" / "out" / "vigil-cache"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as state:
        (Path(state) / "cache").symlink_to(cache, target_is_directory=True)
        yield state


def vigil_run(fmt: str, path: Path, lines: int, *, force: bool = False, rules: bool = True) -> Run:
    flags = [*(["--format", fmt] if force else []), *([] if rules else ["--no-default-rules"])]
    label = f"vigil {fmt}" + (" (--format)" if force else "") + ("" if rules else " (no rules)")
    warm(path)
    with fresh_state() as state:
        cmd = [str(VIGIL), "--state-dir", state, "analyze", "--json", *flags, str(path)]
        report_path = Path(state) / "report.json"
        run, _, stderr = measure(label, cmd, lines, stdout_to=report_path, env=vigil_env())
        summary = _summarise(report_path)
    if summary is None:
        run.note += f"exit {run.exit_code}: {stderr.strip()[-200:]}"
    else:
        run.note += (
            f"format {summary['formats']}, {summary['events']:,} events, "
            f"{summary['rejected']:,} rejected, {summary['alerts']:,} alerts"
        )
    return run


# Run in a child: a report with 10^5 alerts is hundreds of MB once parsed, and this
# script's own peak RSS would then hide every later child's (see the module doc).
_SUMMARY = """
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({
    "events": sum(f.get("events", 0) for f in r["files"]),
    "rejected": sum(f.get("rejected", 0) for f in r["files"]),
    "formats": "/".join(sorted({str(f.get("format")) for f in r["files"]})),
    "alerts": len(r.get("alerts", [])),
}))
"""


def _summarise(report: Path) -> dict[str, Any] | None:
    """Events, rejects, formats and alert count of a vigil JSON report, or None."""
    done = subprocess.run(
        [sys.executable, "-c", _SUMMARY, str(report)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def fail2ban_run(path: Path, lines: int) -> Run | None:
    exe = shutil.which("fail2ban-regex")
    if exe is None or not F2B_FILTER.is_file():
        print(f"  fail2ban-regex not found; {INSTALL_HINT}")
        return None
    # -r: no DNS; --print-no-missed/--print-no-ignored: do not print a million missed lines
    # (the default mode still keeps every line in memory for its report: its RSS shows it).
    cmd = [exe, "-r", "--print-no-missed", "--print-no-ignored", str(path), str(F2B_FILTER)]
    run, stdout, _ = measure("fail2ban-regex sshd", cmd, lines)
    m = re.search(
        r"Lines: .*? (\d+) matched, (\d+) missed\s*\n?\s*\[processed in ([\d.]+) sec\]", stdout
    )
    if m:
        run.note += f"{int(m[1]):,} failures matched, own loop {float(m[3]):.1f} s"
    else:
        run.note += f"exit {run.exit_code}, summary not found"
    return run


def rg_run(path: Path, lines: int) -> Run | None:
    exe = shutil.which("rg")
    if exe is None:
        print(f"  rg not found; {INSTALL_HINT}")
        return None
    run, stdout, _ = measure("rg -c (failure regex)", [exe, "-c", SSHD_FAILURES, str(path)], lines)
    run.note += f"{int(stdout.strip() or 0):,} lines matched (match only: no fields, no types)"
    return run


def startup_run(out_dir: Path, seed: int) -> Run:
    """Start-up on a 100-line file, warm: the first run fills the caches (see above)."""
    path = ensure_log("firewall", 100, seed, out_dir)
    vigil_run("firewall", path, 100)
    run = vigil_run("firewall", path, 100)
    run.label = "vigil start-up (100 lines)"
    return run


def table(runs: list[Run]) -> str:
    head = (
        f"{'run':<36} {'lines':>10} {'wall s':>8} {'lines/s':>11} {'CPU s':>7}"
        f" {'lines/CPU-s':>12} {'peak RSS':>9} {'other':>6}  note"
    )
    rows = [head, "-" * len(head)]
    for r in runs:
        rows.append(
            f"{r.label:<36} {r.lines:>10,} {r.wall_s:>8.2f} {r.per_s:>11,.0f} {r.cpu_s:>7.2f}"
            f" {r.per_cpu_s:>12,.0f} {r.peak_rss_mb:>6.0f} MB {r.other_cores:>6.2f}  {r.note}"
        )
    rows.append("other: cores used by other processes during the run (2 cores are shared)")
    return "\n".join(rows)


def verdicts(runs: dict[str, Run], big: list[Run]) -> list[str]:
    out = []
    for fmt, target in TARGETS.items():
        if fmt in runs:
            r = runs[fmt]
            ok = "met" if r.per_s >= target else "NOT met"
            out.append(
                f"target {fmt}: >= {target:,} lines/s wall -> {r.per_s:,.0f} ({ok}; {r.label})"
            )
    f2b, rg = runs.get("fail2ban"), runs.get("rg")
    if "sshd" in runs and f2b:
        v = runs["sshd"]
        out.append(
            f"vigil/fail2ban-regex (sshd): {v.per_s / f2b.per_s:.1f}x wall, "
            f"{v.per_cpu_s / f2b.per_cpu_s:.1f}x per CPU-second (target ~30x)"
        )
    if "sshd" in runs and rg:
        v = runs["sshd"]
        out.append(
            f"vigil/rg -c (sshd): {v.per_s / rg.per_s:.2f}x wall, "
            f"{v.per_cpu_s / rg.per_cpu_s:.2f}x per CPU-second"
        )
    for r in big:
        ok = "met" if r.peak_rss_mb < RSS_TARGET_MB else "NOT met"
        out.append(
            f"target peak RSS on {r.lines:,} sshd lines: < {RSS_TARGET_MB} MB -> "
            f"{r.peak_rss_mb:.0f} MB ({ok}; {r.label})"
        )
    return out


def _short(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def bench_arguments(doc: str | None, peers: str) -> argparse.ArgumentParser:
    """The options every vigil benchmark script takes."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--big-lines", type=int, default=5_000_000)
    parser.add_argument("--no-big", action="store_true", help="skip the big sshd memory check")
    parser.add_argument("--formats", default="sshd,apache,firewall")
    parser.add_argument("--no-peers", action="store_true", help=f"skip {peers}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--force-format", action="store_true", help="pass --format to vigil (no sniffing)"
    )
    return parser


def checked_formats(parser: argparse.ArgumentParser, spec: str) -> list[str]:
    """The formats a comma list names (a usage error for unknown ones), after checking
    vigil is installed; prints the machine and its load, which the figures depend on."""
    formats = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = set(formats) - set(FILES)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")
    if not VIGIL.exists():
        parser.error(f"{VIGIL} not found: run `make` (the venv) first")
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
    )
    return formats


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, peers="fail2ban-regex and rg")
    parser.add_argument(
        "--rules",
        choices=("with", "without", "both"),
        default="with",
        help="vigil with its rule pack (as users run it), without (--no-default-rules: the "
        "parsing pipeline alone), or both",
    )
    args = parser.parse_args(argv)
    formats = checked_formats(parser, args.formats)
    runs: list[Run] = [startup_run(args.out, args.seed)]
    by_name: dict[str, Run] = {}
    rule_modes = {"with": [True], "without": [False], "both": [True, False]}[args.rules]
    for fmt in formats:
        path = ensure_log(fmt, args.lines, args.seed, args.out)
        for rules in rule_modes:
            run = vigil_run(fmt, path, args.lines, force=args.force_format, rules=rules)
            # The parse targets are about the parsing pipeline: judged on the run
            # without rules when there is one.
            if not rules or fmt not in by_name:
                by_name[fmt] = run
            runs.append(run)
        if fmt == "sshd" and not args.no_peers:
            for name, peer in (
                ("fail2ban", fail2ban_run(path, args.lines)),
                ("rg", rg_run(path, args.lines)),
            ):
                if peer is not None:
                    by_name[name] = peer
                    runs.append(peer)
    big: list[Run] = []
    if not args.no_big and "sshd" in formats:
        path = ensure_log("sshd", args.big_lines, args.seed, args.out)
        for rules in rule_modes:
            run = vigil_run("sshd", path, args.big_lines, force=args.force_format, rules=rules)
            run.label = run.label.replace("sshd", f"sshd {_short(args.big_lines)}", 1)
            big.append(run)
            runs.append(run)
    print()
    print(table(runs))
    print()
    for line in verdicts(by_name, big):
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
