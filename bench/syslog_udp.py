"""Syslog over UDP: messages received vs sent, and where the rest went, per event loop.

    python bench/syslog_udp.py                        # 20k, 50k, 100k msg/s; asyncio and uvloop
    python bench/syslog_udp.py --rates 50000 --messages 300000 --loops uvloop
    python bench/syslog_udp.py --shape                # also: message shaping, Python vs polars

A sender process paces RFC 3164 sshd lines (~100 bytes) to a `SyslogSource` listening
on 127.0.0.1 in this process, whose `deliver` only counts. Each row says how many were
sent (and at what rate the sender really managed), how many the source received, and
where the others went: dropped by the kernel (receive buffer full, from /proc/net/udp)
or by vigil (its hand-off full). `delivered` + `rejected` + `dropped` = `received`.
CPU is this process's (listener + delivery thread) per 1,000 messages received.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vigil.sources.live import RawChunk  # noqa: E402
from vigil.sources.net_settings import SyslogSettings  # noqa: E402
from vigil.sources.syslog_net import SyslogSource  # noqa: E402

LINE = (
    "<38>Nov 22 10:00:01 bastion sshd[4242]: Failed password for invalid user admin "
    "from 203.0.113.7 port {port} ssh2 #{n:09d}"
)


@dataclass
class Row:
    loop: str
    rate: int
    sent: int
    send_rate: float
    received: int
    delivered: int
    rejected: int
    kernel_drops: int
    vigil_drops: int
    cpu_per_1k_ms: float


def sender(host: str, port: int, rate: int, count: int) -> None:
    """Send `count` messages at `rate` per second (in 1 ms steps); print the real rate."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))
    payloads = [LINE.format(port=40000 + n % 20000, n=n).encode() for n in range(count)]
    send = sock.send
    began = time.perf_counter()
    n = 0
    while n < count:
        due = min(count, int((time.perf_counter() - began) * rate) + 1)
        while n < due:
            send(payloads[n])
            n += 1
        if n < count:
            time.sleep(0.0005)
    print(f"{count / (time.perf_counter() - began):.0f}")


class Counter:
    def __init__(self) -> None:
        self.lines = 0
        self.lock = threading.Lock()

    def __call__(self, chunk: RawChunk) -> None:
        with self.lock:
            self.lines += len(chunk.lines)


def run(loop: str, rate: int, count: int) -> Row:
    settings = SyslogSettings(listen="127.0.0.1:0", loop=loop)  # type: ignore[arg-type]
    source = SyslogSource("bench", settings)
    counter = Counter()
    source.start(counter)
    host, port = source.address
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    done = subprocess.run(
        [sys.executable, __file__, "--sender", host, str(port), str(rate), str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    # Wait until the source has taken what the kernel still holds.
    last, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        received = int(source.stats().detail["received"])
        if received == last:
            break
        last = received
        time.sleep(0.2)
    source.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    st = source.stats()
    received = int(st.detail["received"])
    return Row(
        loop=loop,
        rate=rate,
        sent=count,
        send_rate=float(done.stdout.strip()),
        received=received,
        delivered=st.lines,
        rejected=st.rejected,
        kernel_drops=int(st.detail["kernel_drops"]),
        vigil_drops=st.dropped,
        cpu_per_1k_ms=cpu / max(received, 1) * 1e6,
    )


def shape_figures(lines: int, rounds: int) -> list[str]:
    """Shaping a batch of messages: the Python loop vigil uses, against polars."""
    import polars as pl  # noqa: PLC0415 - only this optional figure needs it

    from vigil.sources.net_lines import shape_frames  # noqa: PLC0415

    frames = [LINE.format(port=40000, n=n).encode() for n in range(lines)]

    def with_polars() -> list[str]:
        raw = pl.Series("raw", frames, dtype=pl.Binary)
        nul = raw.bin.contains(b"\x00")
        text = b"\x00".join(frames).decode("utf-8", "replace")
        line = pl.Series([text]).str.split("\x00").explode().str.strip_chars_end("\r\n")
        frame = pl.DataFrame({"line": line, "size": raw.bin.size(), "nul": nul})
        controls = pl.col("line").str.count_matches(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
        bad = pl.col("line").str.count_matches("\ufffd", literal=True)
        ok = frame.filter(
            ~pl.col("nul")
            & (pl.col("size") <= 65536)
            & (pl.col("line").str.strip_chars() != "")
            & ((controls + bad) * 4 <= pl.col("line").str.len_chars())
        )
        return ok.get_column("line").str.replace_all("\n", "#012", literal=True).to_list()

    out = []
    for name, fn in (
        ("python loop", lambda: shape_frames(frames, 65536).lines),
        ("polars", with_polars),
    ):
        assert len(fn()) == lines
        began = time.perf_counter()
        for _ in range(rounds):
            fn()
        per = (time.perf_counter() - began) / rounds / lines * 1e6
        out.append(f"shape {lines} messages, {name}: {per:.2f} µs per message")
    return out


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--sender":
        host, port, rate, count = sys.argv[2:6]
        sender(host, int(port), int(rate), int(count))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", default="20000,50000,100000", help="messages/s, comma list")
    parser.add_argument("--messages", type=int, default=200_000, help="per rate and loop")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--shape", action="store_true", help="also time message shaping")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at start; net.core.rmem_max "
        f"{Path('/proc/sys/net/core/rmem_max').read_text().strip()} bytes"
    )
    header = (
        f"{'loop':8} {'target/s':>9} {'sent/s':>8} {'sent':>8} {'received':>9} {'%':>6} "
        f"{'delivered':>9} {'kernel drop':>11} {'vigil drop':>10} {'CPU ms/1k':>9}"
    )
    print(header)
    for rate in (int(r) for r in args.rates.split(",")):
        for loop in args.loops.split(","):
            r = run(loop, rate, args.messages)
            print(
                f"{r.loop:8} {r.rate:>9} {r.send_rate:>8.0f} {r.sent:>8} {r.received:>9} "
                f"{100 * r.received / r.sent:>5.1f}% {r.delivered:>9} {r.kernel_drops:>11} "
                f"{r.vigil_drops:>10} {r.cpu_per_1k_ms:>9.1f}"
            )
            assert r.received == r.delivered + r.rejected + r.vigil_drops, "unaccounted"
    if args.shape:
        for text in shape_figures(1000, 200):
            print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
