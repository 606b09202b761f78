"""The live benchmark's feed: sshd lines appended to a file at a steady rate, with
brute-force attackers planted at a steady pace, each one's five failures written at
once. Every line is dated when it is written, as sshd would."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Failures an attacker sends at once: ssh_bruteforce and fail2ban (maxretry 5) both
# act on the fifth.
TRIES = 5
# The writer wakes up this often and writes what is due.
TICK = 0.01
_BENIGN = [
    "bastion CRON[{p}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "bastion sshd[{p}]: Accepted publickey for alice from 10.1.{a}.{b} port {port} ssh2",
    "bastion sshd[{p}]: Received disconnect from 10.1.{a}.{b} port {port}:11: disconnected by user",
    "bastion sshd[{p}]: pam_unix(sshd:session): session closed for user alice",
    "bastion systemd-logind[{p}]: New session {port} of user alice.",
]


def attacker(i: int) -> str:
    """RFC 5737 documentation addresses, then RFC 2544 benchmarking addresses."""
    if i < 254:
        return f"203.0.113.{i + 1}"
    if i < 508:
        return f"198.51.100.{i - 253}"
    i -= 508
    return f"198.18.{i // 254}.{i % 254 + 1}"


def _pool(n: int = 997) -> list[str]:
    """Benign line bodies (everything after the timestamp), prepared once."""
    return [
        " "
        + _BENIGN[k % len(_BENIGN)].format(
            p=1000 + k * 7 % 30000, a=k % 250, b=k * 13 % 250 + 1, port=20000 + k * 31 % 40000
        )
        for k in range(n)
    ]


def stamp(ts: datetime) -> str:
    return f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S}"


@dataclass
class Feed:
    path: Path
    rate: int  # lines per second
    seconds: float
    attackers_per_second: float
    written: int = 0
    elapsed: float = 0.0
    # Attacker address → wall time (epoch seconds) its fifth failure was on disk.
    triggers: dict[str, float] = field(default_factory=dict)

    @property
    def achieved(self) -> float:
        return self.written / self.elapsed if self.elapsed else 0.0

    def run(self) -> None:
        """Append for `seconds` at `rate` lines/s (wall clock), planting attackers."""
        pool = _pool()
        planted = 0
        with self.path.open("a", encoding="utf-8") as out:
            start = time.monotonic()
            while True:
                now = time.monotonic() - start
                if now >= self.seconds:
                    break
                due = int(self.rate * now) - self.written
                wall = datetime.now(UTC)
                prefix = stamp(wall)
                parts = [prefix + pool[(self.written + k) % len(pool)] for k in range(max(due, 0))]
                attackers_due = int(self.attackers_per_second * now) - planted
                ips = [attacker(planted + k) for k in range(max(attackers_due, 0))]
                for k, ip in enumerate(ips):
                    parts += [
                        f"{prefix} bastion sshd[{2000 + k}]: Failed password for root from {ip}"
                        f" port {50000 + t} ssh2"
                        for t in range(TRIES)
                    ]
                if parts:
                    out.write("\n".join(parts) + "\n")
                    out.flush()
                    at = time.time()
                    for ip in ips:
                        self.triggers[ip] = at
                    self.written += len(parts)
                    planted += len(ips)
                time.sleep(max(0.0, TICK - (time.monotonic() - start - now)))
            self.elapsed = time.monotonic() - start
            os.fsync(out.fileno())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; inf when a value is missing (never acted on)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]
