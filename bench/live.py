"""Live reaction benchmark: how long from a brute-force attacker's fifth failure being
written to the log until an action against it is recorded, for `vigil run` (tailing,
dry-run) and for fail2ban-server (polling backend, an action that only logs the ban).

    python bench/live.py                          # 1k, 10k, 100k lines/s, 10 s each
    python bench/live.py --rates 1000,20000 --seconds 20
    python bench/live.py --no-fail2ban --json bench/out/live.json

A writer appends sshd lines to a fresh file at each rate, planting attackers (five
failures at once) at a steady pace; each line is dated when written. vigil and fail2ban
run one after the other on identical feeds, never at the same time (two cores). For
vigil the time an action is recorded is `actions.created_at` in its state database; for
fail2ban it is when its ban action runs. An attacker never acted on counts as infinite.
"Sustained" means p99 under one second with every attacker acted on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_feed import Feed, percentile
from vigil.config.live import DEFAULT_BATCH_LINES, DEFAULT_BATCH_MS, DEFAULT_POLL

ROOT = Path(__file__).resolve().parent.parent
VIGIL = ROOT / ".venv" / "bin" / "vigil"
F2B_CONF = Path("/etc/fail2ban")
TARGET_P99 = 1.0
# After the writer stops, how long a tool may take to act on the last attackers.
GRACE = 15.0


@dataclass
class Result:
    tool: str
    rate: int
    achieved: float
    lines: int
    attackers: int
    acted: int
    p50: float
    p99: float
    peak_rss_mb: int | None
    # Resident memory a tenth into the writing and at its end: flat when they agree.
    rss_early_mb: int | None
    rss_end_mb: int | None
    cpu_s: float | None  # while the feed was written and acted on (start-up left out)
    load: str

    @property
    def sustained(self) -> bool:
        return self.acted == self.attackers and self.p99 < TARGET_P99


def _vigil_config(work: Path, feed: Path, args: argparse.Namespace) -> Path:
    cfg = work / "vigil.yaml"
    cfg.write_text(
        json.dumps(
            {
                "sources": {
                    "auth": {
                        "type": "file",
                        "paths": [str(feed)],
                        "format": "sshd",
                        "poll_interval": args.poll,
                    }
                },
                "live": {
                    "metrics": None,
                    "batch_lines": args.batch_lines,
                    "batch_ms": args.batch_ms,
                },
                # Every brute force gets a planned block: no rate limit in the way.
                "respond": {
                    "mode": "dry-run",
                    "rate_limit": None,
                    "rules": [{"match": {"rule": "ssh_bruteforce"}, "responder": "nftables"}],
                },
            }
        ),
        encoding="utf-8",
    )
    return cfg


def _proc_stats(pid: int) -> tuple[int | None, float | None]:
    """(peak RSS in MB, CPU seconds) of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            hwm = next((int(x.split()[1]) // 1024 for x in f if x.startswith("VmHWM:")), None)
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None, None
    return hwm, cpu


class _RssSampler:
    """Samples a process's resident memory every second while the feed is written."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                    rss = next(int(x.split()[1]) // 1024 for x in f if x.startswith("VmRSS:"))
            except (OSError, StopIteration):
                return
            self.samples.append(rss)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def early_and_end(self) -> tuple[int | None, int | None]:
        if not self.samples:
            return None, None
        return self.samples[len(self.samples) // 10], self.samples[-1]


def _wait_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} did not appear in {path} within {timeout} s")


def _latencies(feed: Feed, acted: dict[str, float]) -> tuple[float, float, int]:
    lat = [acted[ip] - t if ip in acted else float("inf") for ip, t in feed.triggers.items()]
    return percentile(lat, 0.5), percentile(lat, 0.99), sum(ip in acted for ip in feed.triggers)


def _wait_acted(feed: Feed, read: Any) -> dict[str, float]:
    deadline = time.monotonic() + GRACE
    acted: dict[str, float] = read()
    while time.monotonic() < deadline and not set(feed.triggers) <= set(acted):
        time.sleep(0.2)
        acted = read()
    return acted


def run_vigil(rate: int, args: argparse.Namespace, work: Path) -> Result:
    log, state, err = work / "auth.log", work / "var", work / "vigil.err"
    log.touch()
    cfg = _vigil_config(work, log, args)
    env = {**os.environ, "VIGIL_STATE_DIR": str(state)}
    with err.open("wb") as stderr:
        proc = subprocess.Popen([str(VIGIL), "run", "-c", str(cfg)], env=env, stderr=stderr)
    try:
        _wait_line(err, '"msg": "running"', 60)
        feed = Feed(log, rate, args.seconds, args.attackers_per_second)
        load = _load()
        _, cpu_before = _proc_stats(proc.pid)
        with _RssSampler(proc.pid) as rss_samples:
            feed.run()
        db = state / "vigil.db"

        def read() -> dict[str, float]:
            conn = sqlite3.connect(db, timeout=10)
            try:
                rows = conn.execute(
                    "SELECT target, MIN(created_at) FROM actions GROUP BY target"
                ).fetchall()
            finally:
                conn.close()
            return {t: datetime.fromisoformat(c).timestamp() for t, c in rows}

        acted = _wait_acted(feed, read)
        rss, cpu = _proc_stats(proc.pid)
        cpu = cpu - cpu_before if cpu is not None and cpu_before is not None else None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return _result("vigil", feed, acted, rss, rss_samples, cpu, load)


_F2B_ACTION = """[Definition]
actionstart =
actionstop =
actioncheck =
actionban = printf '%%s %%s\\n' "<ip>" "$(date +%%s.%%N)" >> <banlog>
actionunban =
"""


def _fail2ban_conf(work: Path, feed: Path) -> Path:
    conf = work / "f2b"
    shutil.copytree(F2B_CONF, conf, ignore=shutil.ignore_patterns("jail.d", "fail2ban.d"))
    (conf / "jail.d").mkdir()
    (conf / "fail2ban.d").mkdir()
    (conf / "action.d" / "benchlog.conf").write_text(_F2B_ACTION, encoding="utf-8")
    (conf / "fail2ban.local").write_text(
        f"[Definition]\nloglevel = INFO\nlogtarget = {work}/fail2ban.log\n"
        f"socket = {work}/f2b.sock\npidfile = {work}/f2b.pid\ndbfile = {work}/f2b.sqlite3\n",
        encoding="utf-8",
    )
    (conf / "jail.local").write_text(
        "[DEFAULT]\nbackend = polling\nusedns = no\nbantime = 3600\nfindtime = 600\n"
        "maxretry = 5\nignoreip = 127.0.0.1/8\n\n"
        f"[sshd]\nenabled = true\nfilter = sshd\nlogpath = {feed}\n"
        f'action = benchlog[banlog="{work}/bans.log"]\n',
        encoding="utf-8",
    )
    return conf


def run_fail2ban(rate: int, args: argparse.Namespace, work: Path) -> Result | None:
    if shutil.which("fail2ban-server") is None:
        print("fail2ban-server not found: install with sudo bench/setup.sh", file=sys.stderr)
        return None
    log, sock = work / "auth.log", work / "f2b.sock"
    log.touch()
    conf = _fail2ban_conf(work, log)
    base = ["-c", str(conf), "-s", str(sock)]
    server = subprocess.Popen(
        ["fail2ban-server", *base, "-p", str(work / "f2b.pid"), "-x", "-f", "start"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["fail2ban-client", *base, "status", "sshd"], capture_output=True, check=False
        ).returncode:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"fail2ban did not start; see {work}/fail2ban.log")
            time.sleep(0.2)
        feed = Feed(log, rate, args.seconds, args.attackers_per_second)
        load = _load()
        _, cpu_before = _proc_stats(server.pid)
        with _RssSampler(server.pid) as rss_samples:
            feed.run()
        bans = work / "bans.log"

        def read() -> dict[str, float]:
            out: dict[str, float] = {}
            if bans.exists():
                for line in bans.read_text().splitlines():
                    ip, _, at = line.partition(" ")
                    out.setdefault(ip, float(at))
            return out

        acted = _wait_acted(feed, read)
        rss, cpu = _proc_stats(server.pid)
        cpu = cpu - cpu_before if cpu is not None and cpu_before is not None else None
    finally:
        subprocess.run(["fail2ban-client", *base, "stop"], capture_output=True, check=False)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return _result("fail2ban", feed, acted, rss, rss_samples, cpu, load)


def _result(
    tool: str,
    feed: Feed,
    acted: dict[str, float],
    peak: int | None,
    samples: _RssSampler,
    cpu: float | None,
    load: str,
) -> Result:
    p50, p99, n = _latencies(feed, acted)
    early, end = samples.early_and_end()
    return Result(
        tool, feed.rate, feed.achieved, feed.written, len(feed.triggers), n, p50, p99,
        peak, early, end, cpu, load,
    )  # fmt: skip


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def _s(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.3f}"


def report(results: list[Result]) -> str:
    head = (
        f"{'tool':<9} {'rate/s':>8} {'written/s':>9} {'attackers':>9} {'acted':>6} "
        f"{'p50 s':>7} {'p99 s':>7} {'peak MB':>7} {'RSS MB':>9} {'CPU s':>6}  load"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        rows.append(
            f"{r.tool:<9} {r.rate:>8} {r.achieved:>9.0f} {r.attackers:>9} {r.acted:>6} "
            f"{_s(r.p50):>7} {_s(r.p99):>7} {r.peak_rss_mb or '-':>7} "
            f"{f'{r.rss_early_mb}>{r.rss_end_mb}' if r.rss_end_mb else '-':>9} "
            f"{'-' if r.cpu_s is None else f'{r.cpu_s:.1f}':>6}  {r.load}"
        )
    for tool in sorted({r.tool for r in results}):
        ok = [r.rate for r in results if r.tool == tool and r.sustained]
        best = f"{max(ok)} lines/s" if ok else "none of the rates tried"
        rows.append(f"{tool}: highest sustained rate with p99 < {TARGET_P99:g} s: {best}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", default="1000,10000,100000", help="lines/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="writing time per rate")
    parser.add_argument("--attackers-per-second", type=float, default=5.0)
    parser.add_argument("--batch-lines", type=int, default=DEFAULT_BATCH_LINES)
    parser.add_argument("--batch-ms", type=int, default=DEFAULT_BATCH_MS)
    parser.add_argument("--poll", type=float, default=DEFAULT_POLL, help="file poll interval, s")
    parser.add_argument("--no-fail2ban", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for rate in (int(r) for r in args.rates.split(",")):
        for tool in ("vigil", "fail2ban"):
            if tool == "fail2ban" and args.no_fail2ban:
                continue
            with tempfile.TemporaryDirectory(prefix=f"vigil-live-{tool}-") as tmp:
                run = run_vigil if tool == "vigil" else run_fail2ban
                result = run(rate, args, Path(tmp))
            if result is not None:
                results.append(result)
                print(report([result]).splitlines()[2], flush=True)
    print()
    print(report(results))
    print(
        f"cores: {os.cpu_count()}; batch_lines {args.batch_lines}, batch_ms {args.batch_ms},"
        f" poll {args.poll} s"
    )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
