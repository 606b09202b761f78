"""What the live tests share: sshd lines with planted brute-force attackers among benign
lines, configurations, waiting with a deadline, the state database read from outside,
and the monitor run as a process or on a thread.

The lines are dated up to now. Dates matter: once it has caught up, the live monitor
moves its windows to the clock, and a line dated more than a window before it arrives is
late (ignored)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from vigil.config.loader import load_config
from vigil.live.daemon import Daemon
from vigil.live.signals import Flags
from vigil.sources.tail import TailSource

VIGIL = [sys.executable, "-m", "vigil"]
# Lines of attack_log per second of event time.
RATE = 50


def attacker(i: int) -> str:
    """Documentation addresses only: 203.0.113.0/24, then 198.51.100.0/24 (508 in all)."""
    if not 0 <= i < 508:
        raise ValueError(f"attacker {i}: only 508 documentation addresses")
    return f"203.0.113.{i + 1}" if i < 254 else f"198.51.100.{i - 253}"


def stamp(ts: datetime) -> str:
    return f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S}"


def failed(ts: datetime, ip: str, n: int = 0) -> str:
    pid, port = 4000 + n % 5000, 40000 + n % 20000
    return f"{stamp(ts)} bastion sshd[{pid}]: Failed password for root from {ip} port {port} ssh2"


def benign(ts: datetime, n: int) -> str:
    pid = n % 30000
    if n % 2:
        session = "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
        return f"{stamp(ts)} bastion CRON[{pid}]: {session}"
    key = f"Accepted publickey for alice from 192.0.2.10 port {n % 60000} ssh2"
    return f"{stamp(ts)} bastion sshd[{pid}]: {key}"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def attack(ip: str, tries: int = 6) -> list[str]:
    """An attacker's failures, just now."""
    t = now()
    return [failed(t, ip, i) for i in range(tries)]


def attack_log(lines: int, attackers: int, *, tries: int = 6) -> list[str]:
    """`lines` lines, RATE a second of event time, the last one now; the attackers'
    failures come one attacker after another, spread evenly through the log."""
    start = now() - timedelta(seconds=lines // RATE)
    out = [benign(start + timedelta(seconds=n // RATE), n) for n in range(lines)]
    step = max(lines // max(attackers, 1), tries + 1)
    for a in range(attackers):
        base = a * step
        for t in range(tries):
            n = min(base + t, lines - 1)
            out[n] = failed(start + timedelta(seconds=n // RATE), attacker(a), n)
    return out


def write(path: Path, lines: list[str], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n" if lines else "")


def config(path: Path, sources: dict[str, Any], **live: Any) -> Path:
    live.setdefault("metrics", None)
    live.setdefault("tick", 0.2)
    doc = {"sources": sources, "live": live}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def wait_for(what: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    """Poll `what` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        conn.close()


def brute_force_rows(db: Path) -> list[str]:
    """The source address of every ssh_bruteforce alert row."""
    rows = query(db, "SELECT entity FROM alerts WHERE rule_name = 'ssh_bruteforce'")
    return sorted(json.loads(e)["source.ip"] for (e,) in rows)


def duplicates(db: Path) -> list[tuple[Any, ...]]:
    """(rule, entity) pairs stored more than once."""
    return query(
        db, "SELECT rule_name, entity, COUNT(*) FROM alerts GROUP BY 1, 2 HAVING COUNT(*) > 1"
    )


def checkpoint_line(db: Path) -> int:
    rows = query(db, "SELECT MAX(line) FROM checkpoints")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


@contextmanager
def vigil_run(
    state: Path, cfg: Path, *extra: str, stderr: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`vigil run` as a child process; killed at the end if still running."""
    err = stderr.open("ab") if stderr is not None else subprocess.DEVNULL
    env = {**os.environ, "VIGIL_STATE_DIR": str(state)}
    proc = subprocess.Popen(
        [*VIGIL, "run", "-c", str(cfg), *extra], stdout=subprocess.DEVNULL, stderr=err, env=env
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if stderr is not None:
            err.close()  # type: ignore[union-attr]


class Running:
    """A Daemon on a thread of its own (its database connection is that thread's)."""

    def __init__(self, cfg: Path, state: Path) -> None:
        self.flags = Flags()
        self.daemon: Daemon | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(cfg, state), daemon=True)

    def _run(self, cfg: Path, state: Path) -> None:
        try:
            self.daemon = Daemon(load_config(cfg), cfg, state_dir=state, flags=self.flags)
            self.ready.set()
            self.daemon.run()
        except BaseException as e:
            self.error = e
            self.ready.set()

    def metrics(self) -> str:
        assert self.daemon is not None and self.daemon.server is not None
        host, port = self.daemon.server.address
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def caught_up(self) -> bool:
        """Every file source has looked at its files once."""
        gen = self.daemon.gen if self.daemon is not None else None
        return gen is not None and all(
            s.caught_up() for s in gen.sources.values() if isinstance(s, TailSource)
        )

    def counter(self, name: str, **labels: str) -> float:
        assert self.daemon is not None
        return self.daemon.metrics.value(name, **labels)


@contextmanager
def running(cfg: Path, state: Path) -> Iterator[Running]:
    r = Running(cfg, state)
    r.thread.start()
    r.ready.wait(30)
    # Started: its generation (sources, pipeline) is up, or it failed trying.
    wait_for(lambda: r.error is not None or (r.daemon is not None and r.daemon.gen is not None))
    try:
        yield r
    except AssertionError:
        if r.error is not None:
            raise AssertionError(f"the daemon failed: {r.error!r}") from r.error
        raise
    finally:
        r.flags.request_stop("test")
        r.thread.join(30)
    assert not r.thread.is_alive()
    if r.error is not None:
        raise r.error
