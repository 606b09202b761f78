"""Firewall log in the seed pipe format, with planted floods and scans and exact truth:

    2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22

The defended side is 198.51.100.0/24 (DMZ servers .10-.29, plus 2001:db8::10) and RFC 1918
inside; "internet" clients come from 100.64.0.0/10 (RFC 6598) and internet servers from
198.19.0.0/16 (RFC 2544). Attackers come from 203.0.113.0/24 and 192.0.2.0/24.

| class      | what it does                                                             |
|------------|--------------------------------------------------------------------------|
| flood      | one source to one DMZ server and port, about 2 per second for 1-4 min    |
| near_flood | one source to one server, 3 connections every 4 s: at most 46 a minute  |
| vertical   | one source to one server, 200-600 distinct ports, 2 every 3 s            |
| horizontal | one source to 100-254 addresses of 198.51.100.0/24, one port, 2 every 3 s|

Truth is computed over all rows for three rules (window `window` seconds, see windows.py):
flood = at least `flood_threshold` connections from one source to one destination;
vertical scan = at least `scan_threshold` distinct destination ports for one (source,
destination); horizontal scan = at least `scan_threshold` distinct destinations for one
(source, destination port).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from bench.loggen import GENERATOR_VERSION
from bench.loggen.common import (
    DEFAULT_START,
    AttackerPool,
    Generated,
    Template,
    finish,
    ipv4_strings,
    ipv4_to_int,
    place,
    private_v4,
    render_templates,
    rng_for,
    scale_mix,
    stack,
    timelines,
    uniform_ints,
)
from bench.loggen.firewall_truth import firewall_truth

TEMPLATE = Template("{ts} | {src} | {dst} | {proto} | {action} | {sport} | {dport}")
PROTOS = ("TCP", "UDP", "ICMP")
ACTIONS = ("ALLOW", "DENY")
TCP, UDP, ICMP = 0, 1, 2
ALLOW, DENY = 0, 1
DMZ = 20
NOISE_PORTS = (23, 3389, 445, 1433, 5900, 8080, 25, 21, 3306, 6379)
SCAN_PORTS = (22, 23, 445, 3389)
_ORDER = ("conn", "seq")


@dataclass(frozen=True)
class FirewallMix:
    """Attackers per class (defaults: per million lines; small files get 2/3/1/1)."""

    flood: int = 20
    near_flood: int = 30
    vertical: int = 10
    horizontal: int = 10

    def scaled(self, lines: int) -> FirewallMix:
        return scale_mix(
            self, lines, least={"flood": 2, "near_flood": 3, "vertical": 1, "horizontal": 1}
        )


@dataclass(frozen=True)
class FirewallSpec:
    lines: int
    seed: int = 1
    start: datetime = DEFAULT_START
    lines_per_day: int = 1_000_000
    mix: FirewallMix | None = None
    flood_threshold: int = 50
    scan_threshold: int = 20
    window: int = 60


class _Addresses:
    """One table for sources and destinations; columns hold indices into it."""

    def __init__(self) -> None:
        self.parts: list[pl.Series] = []
        self.size = 0

    def add(self, values: pl.Series) -> np.ndarray:
        first = self.size
        self.parts.append(values)
        self.size += len(values)
        return np.arange(first, self.size, dtype=np.int64)


def generate_firewall(spec: FirewallSpec) -> Generated:
    mix = spec.mix or FirewallMix().scaled(spec.lines)
    t_start = int(spec.start.timestamp())
    span = max(3600, round(spec.lines / spec.lines_per_day * 86400))
    table = _Addresses()
    dmz = table.add(ipv4_strings(ipv4_to_int("198.51.100.10") + np.arange(DMZ)))
    subnet = table.add(ipv4_strings(ipv4_to_int("198.51.100.0") + np.arange(1, 255)))
    dmz6 = table.add(pl.Series(["2001:db8::10"]))
    resolvers = table.add(pl.Series(["10.0.0.53", "10.0.0.54"]))
    pool = AttackerPool(rng_for(spec.seed, "firewall/pool"), exclude_nets=("198.51.100.0",))
    parts: list[pl.DataFrame] = []
    actors: list[dict[str, Any]] = []
    for cls in ("flood", "near_flood", "vertical", "horizontal"):
        n = getattr(mix, cls)
        rng = rng_for(spec.seed, f"firewall/{cls}")
        src = table.add(pool.take_v4(n))
        part, targets = _attack(cls, rng, src, dmz, subnet, len(actors), t_start, span)
        parts.append(part)
        actors += [
            {"actor": len(actors) + i, "src": int(src[i]), "class": cls, **targets[i]}
            for i in range(n)
        ]
    round_no = 0
    while round_no == 0 or sum(p.height for p in parts) < spec.lines:
        round_no += 1
        rng = rng_for(spec.seed, f"firewall/background/{round_no}")
        need = spec.lines - sum(p.height for p in parts) + spec.lines // 50 + 40
        ends = _Ends(
            inside=table.add(private_v4(rng, max(50, need // 500))),
            inside6=table.add(_ula(rng, max(5, need // 5000))),
            outside=table.add(_cgnat(rng, max(200, need // 50))),
            servers=table.add(
                ipv4_strings(ipv4_to_int("198.19.0.0") + rng.integers(256, 65280, size=2000))
            ),
            dmz=dmz,
            dmz6=dmz6,
            resolvers=resolvers,
        )
        parts += _background(rng, need, ends, t_start, span, round_no)
    records = finish(stack(parts), spec.lines, _ORDER)
    ips = pl.concat(table.parts)
    truth = {
        "format": "firewall",
        "generator": f"bench/loggen/firewall.py v{GENERATOR_VERSION}",
        "seed": spec.seed,
        "lines": spec.lines,
        "timezone": "UTC",
        "mix": {f.name: getattr(mix, f.name) for f in fields(mix)},
        **firewall_truth(
            records, ips, actors, spec.flood_threshold, spec.scan_threshold, spec.window
        ),
    }
    tables = {
        "src": ips,
        "dst": ips,
        "proto": pl.Series(PROTOS),
        "action": pl.Series(ACTIONS),
    }

    def render(chunk: pl.DataFrame) -> pl.Series:
        ts = pl.from_epoch(pl.col("t"), time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
        port = {c: pl.col(c).cast(pl.String).fill_null("-") for c in ("sport", "dport")}
        prepared = chunk.with_columns(
            ts.alias("ts"), *(e.alias(c) for c, e in port.items()), pl.lit(0).alias("tmpl")
        )
        return render_templates(prepared, [TEMPLATE])

    return Generated("firewall", records, tables, render, truth)


@dataclass(frozen=True)
class _Ends:
    inside: np.ndarray
    inside6: np.ndarray
    outside: np.ndarray
    servers: np.ndarray
    dmz: np.ndarray
    dmz6: np.ndarray
    resolvers: np.ndarray


def _attack(
    cls: str,
    rng: np.random.Generator,
    src: np.ndarray,
    dmz: np.ndarray,
    subnet: np.ndarray,
    first_actor: int,
    t0: int,
    span: int,
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    n = len(src)
    target = dmz[rng.integers(0, DMZ, size=n)]
    port = np.array(SCAN_PORTS)[rng.integers(0, len(SCAN_PORTS), size=n)]
    if cls == "flood":
        counts = uniform_ints(rng, 120, 480, n)
        gaps = rng.integers(0, 2, size=int(counts.sum()))
    elif cls == "near_flood":
        counts = uniform_ints(rng, 135, 450, n)
        gaps = np.tile([1, 1, 2], int(counts.sum()) // 3 + 1)[: int(counts.sum())]
    elif cls == "vertical":
        counts = uniform_ints(rng, 200, 600, n)
        gaps = np.tile([1, 2], int(counts.sum()) // 2 + 1)[: int(counts.sum())]
    else:
        counts = uniform_ints(rng, 100, 254, n)
        gaps = np.tile([1, 2], int(counts.sum()) // 2 + 1)[: int(counts.sum())]
    owner, position, t = place(rng, t0, span, counts, gaps)
    total = len(owner)
    dst = target[owner]
    dport = port[owner]
    action = np.where(rng.random(n) < 0.5, ALLOW, DENY)[owner]
    if cls == "vertical":
        # Distinct ports per scanner: a permutation of the low ports, one per connection.
        perm = np.argsort(rng.random((n, 1024)), axis=1) + 1
        dport = perm[owner, position]
        action = np.where(np.isin(dport, (22, 80, 443)), ALLOW, DENY)
    elif cls == "horizontal":
        perm = np.argsort(rng.random((n, len(subnet))), axis=1)
        dst = subnet[perm[owner, position]]
        action = np.full(total, DENY)
    frame = _flows(
        t=t,
        conn=first_actor + owner,
        seq=position,
        src=src[owner],
        dst=dst,
        proto=np.full(total, TCP),
        action=action,
        sport=uniform_ints(rng, 1024, 65535, total),
        dport=dport,
    ).with_columns(pl.Series("actor", first_actor + owner))
    targets = [
        {"dst": int(target[i])} if cls != "horizontal" else {"dport": int(port[i])}
        for i in range(n)
    ]
    return frame, targets


def _background(
    rng: np.random.Generator, lines: int, ends: _Ends, t0: int, span: int, round_no: int
) -> list[pl.DataFrame]:
    conn0 = 10_000_000 * round_no
    parts = []

    def when(n: int) -> np.ndarray:
        return t0 + (rng.random(n) * span).astype(np.int64)

    def one_of(values: np.ndarray, n: int) -> np.ndarray:
        return values[rng.integers(0, len(values), size=n)]

    # Inbound web: page loads of 1-8 connections to one DMZ web server (10% over IPv6).
    n = max(1, int(lines * 0.45 / 4.5))
    counts = uniform_ints(rng, 1, 8, n)
    owner, position, t = timelines(when(n), counts, rng.integers(0, 3, size=int(counts.sum())))
    six = rng.random(n) < 0.1
    src = np.where(six, one_of(ends.inside6, n), one_of(ends.outside, n))
    dst = np.where(six, ends.dmz6[0], one_of(ends.dmz[:8], n))
    dport = np.where(rng.random(n) < 0.85, 443, 80)
    parts.append(
        _session(rng, t, conn0 + owner, position, src[owner], dst[owner], TCP, ALLOW, dport[owner])
    )
    # Inbound noise: single denied connections to closed ports.
    n = max(1, int(lines * 0.10))
    parts.append(
        _session(rng, when(n), conn0 + 2_000_000 + np.arange(n), 0, one_of(ends.outside, n),
                 one_of(ends.dmz, n), TCP, DENY, one_of(np.array(NOISE_PORTS), n))
    )  # fmt: skip
    # Outbound web: 1-5 connections from an inside client to one internet server.
    n = max(1, int(lines * 0.25 / 3))
    counts = uniform_ints(rng, 1, 5, n)
    owner, position, t = timelines(when(n), counts, rng.integers(0, 5, size=int(counts.sum())))
    src, dst = one_of(ends.inside, n), one_of(ends.servers, n)
    dport = np.where(rng.random(n) < 0.9, 443, 80)
    parts.append(
        _session(
            rng,
            t,
            conn0 + 4_000_000 + owner,
            position,
            src[owner],
            dst[owner],
            TCP,
            ALLOW,
            dport[owner],
        )
    )
    # DNS to the inside resolvers, NTP out, ICMP from monitoring to the DMZ.
    n = max(1, int(lines * 0.15))
    parts.append(
        _session(rng, when(n), conn0 + 6_000_000 + np.arange(n), 0, one_of(ends.inside, n),
                 one_of(ends.resolvers, n), UDP, ALLOW, np.full(n, 53))
    )  # fmt: skip
    n = max(1, int(lines * 0.03))
    parts.append(
        _session(rng, when(n), conn0 + 8_000_000 + np.arange(n), 0, one_of(ends.inside, n),
                 one_of(ends.servers, n), UDP, ALLOW, np.full(n, 123))
    )  # fmt: skip
    n = max(1, int(lines * 0.02))
    ping = _session(rng, when(n), conn0 + 9_000_000 + np.arange(n), 0, one_of(ends.inside[:1], n),
                    one_of(ends.dmz, n), ICMP, ALLOW, np.zeros(n, dtype=np.int64))  # fmt: skip
    parts.append(
        ping.with_columns(pl.lit(None, dtype=pl.Int32).alias(c) for c in ("sport", "dport"))
    )
    return parts


def _session(
    rng: np.random.Generator,
    t: np.ndarray,
    conn: np.ndarray,
    seq: np.ndarray | int,
    src: np.ndarray,
    dst: np.ndarray,
    proto: int,
    action: int,
    dport: np.ndarray,
) -> pl.DataFrame:
    n = len(t)
    return _flows(
        t=t,
        conn=conn,
        seq=np.broadcast_to(seq, n),
        src=src,
        dst=dst,
        proto=np.full(n, proto),
        action=np.full(n, action),
        sport=uniform_ints(rng, 32768, 60999, n),
        dport=dport,
    )


def _flows(**columns: np.ndarray) -> pl.DataFrame:
    dtypes = {"proto": pl.Int8, "action": pl.Int8, "sport": pl.Int32, "dport": pl.Int32}
    return pl.DataFrame(
        {
            name: pl.Series(name, values, dtype=dtypes.get(name, pl.Int64))
            for name, values in columns.items()
        }
    )


def _ula(rng: np.random.Generator, n: int) -> pl.Series:
    # One string per inside IPv6 client (a handful), not per line.
    return pl.Series([f"fd12:3456:789a::{x:x}" for x in rng.integers(1, 1 << 16, size=n)])


def _cgnat(rng: np.random.Generator, n: int) -> pl.Series:
    return ipv4_strings(ipv4_to_int("100.64.0.0") + rng.integers(1, 1 << 22, size=n))
