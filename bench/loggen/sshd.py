"""sshd auth.log (RFC 3164 syslog, no year) with planted attackers and exact ground truth.

Actor classes (every attacker has its own address; benign users come from RFC 1918 ranges):

| class     | what it does                                                          | must ban? |
|-----------|-----------------------------------------------------------------------|-----------|
| burst     | 3-40 connections a few seconds apart, 1-6 passwords each, dictionary  | yes       |
|           | users (root most), rsyslog folds some repeats into `message repeated` |           |
| burst_v6  | the same from 2001:db8::/32                                           | yes       |
| spray     | one source, 20-60 different user names, one password each, 5-25 s    | yes       |
| slow      | 10-40 single attempts 200-420 s apart: never 5 in 10 min              | no        |
| near4     | groups of 4 attempts within 4 min, groups 700-2000 s apart            | no        |
| exact5    | exactly 5 attempts spread over 500-570 s (about 9 min)                | yes       |
| scanner   | pre-auth only: closed/no identification/kex failures, no password     | (none)    |
| benign    | staff logins (publickey or password, 20% of password logins with 1-2  | only if   |
|           | typos first), sessions, cron, sudo                                    | it happens|

Ground truth counts *attempts*: one `Failed password for ...` line is one attempt,
`message repeated N times: [ Failed password ...]` is N; the `Invalid user`, pam_unix and
`Disconnecting` lines of the same attempt are not counted again. An address must be banned iff
some window of `window` seconds holds at least `max_failures` of its attempts (see
`windows.py` for the exact bounds). The "must ban?" column is what the class is built for;
the truth file is computed from the lines actually written, so it is exact either way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import polars as pl

from bench.loggen import GENERATOR_VERSION
from bench.loggen.common import (
    DEFAULT_START,
    AttackerPool,
    Generated,
    finish,
    pick,
    place,
    private_v4,
    render_templates,
    rng_for,
    scale_mix,
    stack,
    uniform_ints,
)
from bench.loggen.sshd_lines import (
    BRUTE,
    COMMANDS,
    PREAUTH_KINDS,
    SPRAY,
    STAFF,
    TEMPLATE_LIST,
    USERS,
    T,
    connection_rows,
    session_rows,
    user_indices,
)
from bench.loggen.sshd_truth import sshd_truth


@dataclass(frozen=True)
class SshdMix:
    """How many actors of each class a file holds (defaults: per million lines)."""

    burst: int = 1500
    burst_v6: int = 100
    spray: int = 150
    slow: int = 400
    near4: int = 400
    exact5: int = 400
    scanner: int = 3000

    def scaled(self, lines: int) -> SshdMix:
        """This mix for a file of `lines` lines, at least one actor of each class."""
        return scale_mix(self, lines)


@dataclass(frozen=True)
class SshdSpec:
    lines: int
    seed: int = 1
    start: datetime = DEFAULT_START
    lines_per_day: int = 100_000
    host: str = "bastion"
    mix: SshdMix | None = None
    max_failures: int = 5
    window: int = 600


_ORDER = ("conn", "seq")


def generate_sshd(spec: SshdSpec) -> Generated:
    mix = spec.mix or SshdMix().scaled(spec.lines)
    t_start = int(spec.start.timestamp())
    span = max(3600, round(spec.lines / spec.lines_per_day * 86400))
    pool = AttackerPool(rng_for(spec.seed, "sshd/pool"))
    builder = _Builder(spec.seed, t_start, span)
    for cls in ("burst", "burst_v6", "spray", "slow", "near4", "exact5", "scanner"):
        n = getattr(mix, cls)
        builder.actors(cls, pool.take_v6(n) if cls == "burst_v6" else pool.take_v4(n))
    attack_lines = sum(p.height for p in builder.parts)
    # Background fills the file; a little extra so that cutting at `lines` only trims the end.
    builder.background(max(spec.lines - attack_lines, 0) + spec.lines // 50 + 40)
    rows = stack(builder.parts)
    while rows.height < spec.lines:
        builder.background(spec.lines - rows.height + 40)
        rows = stack(builder.parts)
    records = finish(rows, spec.lines, _ORDER)
    tables = {
        "ip": pl.concat(builder.ip_tables),
        "user": pl.Series(USERS, dtype=pl.String),
        "aux": pl.Series(builder.aux, dtype=pl.String),
    }
    actors = pl.DataFrame(builder.actor_rows, schema=["actor", "ip", "class"], orient="row")
    truth = sshd_truth(records, tables["ip"], actors, spec.max_failures, spec.window)
    truth = {
        "format": "sshd",
        "generator": f"bench/loggen/sshd.py v{GENERATOR_VERSION}",
        "seed": spec.seed,
        "lines": spec.lines,
        "host": spec.host,
        "year": spec.start.year,
        "timezone": "UTC",
        "mix": {f.name: getattr(mix, f.name) for f in fields(mix)},
        **truth,
    }
    host = spec.host

    def render(chunk: pl.DataFrame) -> pl.Series:
        ts = pl.from_epoch(pl.col("t"), time_unit="s").dt.strftime("%b %e %H:%M:%S")
        prepared = chunk.with_columns(ts.alias("ts"), pl.lit(host).alias("host"))
        return render_templates(prepared, TEMPLATE_LIST)

    return Generated("sshd", records, tables, render, truth)


class _Builder:
    """Accumulates record rows, the address table and the actor list of one file."""

    def __init__(self, seed: int, t_start: int, span: int) -> None:
        self.seed = seed
        self.t_start = t_start
        self.span = span
        self.parts: list[pl.DataFrame] = []
        self.ip_tables: list[pl.Series] = []
        self.n_ips = 0
        self.n_conns = 0
        self.actor_rows: list[tuple[int, int, str]] = []
        self.aux: list[str] = list(COMMANDS)
        self._round = 0

    def _ips(self, ips: pl.Series) -> np.ndarray:
        first = self.n_ips
        self.ip_tables.append(ips)
        self.n_ips += len(ips)
        return np.arange(first, self.n_ips, dtype=np.int64)

    def _conn_ids(self, n: int) -> np.ndarray:
        first = self.n_conns
        self.n_conns += n
        return np.arange(first, self.n_conns, dtype=np.int64)

    def actors(self, cls: str, ips: pl.Series) -> None:
        rng = rng_for(self.seed, f"sshd/{cls}")
        n = len(ips)
        ip_index = self._ips(ips)
        actor_ids = np.arange(len(self.actor_rows), len(self.actor_rows) + n)
        self.actor_rows += [(int(a), int(i), cls) for a, i in zip(actor_ids, ip_index, strict=True)]
        counts, gaps = _timing(cls, rng, n)
        owner, position, t0 = place(rng, self.t_start, self.span, counts, gaps)
        total = len(owner)
        base = {
            "conn": self._conn_ids(total),
            "actor": actor_ids[owner],
            "ip": ip_index[owner],
            "port": uniform_ints(rng, 1024, 65535, total),
            "pid": uniform_ints(rng, 1000, 65000, total),
            "t0": t0,
        }
        if cls == "scanner":
            kind = pick(rng, PREAUTH_KINDS, total, p=[0.5, 0.2, 0.15, 0.15])
            tmpl = np.array([T[k] for k in PREAUTH_KINDS])[kind]
            self.parts.append(
                pl.DataFrame(base).select(
                    pl.col("t0").alias("t"),
                    "conn",
                    pl.lit(0, dtype=pl.Int16).alias("seq"),
                    pl.Series("tmpl", tmpl, dtype=pl.Int16),
                    "actor",
                    "ip",
                    "port",
                    "pid",
                    pl.lit(0, dtype=pl.Int32).alias("attempts"),
                )
            )
            return
        one_try = cls in ("slow", "near4", "exact5", "spray")
        if cls == "spray":
            # Distinct names per sprayer: a random permutation of the name list per actor.
            perm = np.argsort(rng.random((n, len(SPRAY))), axis=1)
            user = user_indices(SPRAY, perm[owner, position])
        else:
            weights = [8.0 if u == "root" else 1.0 for u in BRUTE]
            user = user_indices(BRUTE, pick(rng, BRUTE, total, p=weights))
        m = (
            np.ones(total, dtype=np.int64)
            if one_try
            else 1 + pick(rng, range(6), total, p=[0.2, 0.1, 0.1, 0.1, 0.1, 0.4])
        )
        self.parts.append(
            connection_rows(
                pl.DataFrame(
                    {
                        **base,
                        "user": user,
                        "m": m,
                        "lag": uniform_ints(rng, 2, 4, total),
                        "step": uniform_ints(rng, 2, 5, total),
                        "collapse": (m >= 3) & (rng.random(total) < 0.4),
                    }
                )
            )
        )

    def background(self, lines: int) -> None:
        """Benign sessions (~9 lines), cron (2 lines) and sudo (3 lines): about `lines` rows."""
        self._round += 1
        rng = rng_for(self.seed, f"sshd/background/{self._round}")
        n_sessions = max(1, int(lines * 0.4 / 9))
        n_cron = max(1, int(lines * 0.45 / 2))
        n_sudo = max(1, int(lines * 0.15 / 3))
        self._sessions(rng, n_sessions)
        self._cron(rng, n_cron)
        self._sudo(rng, n_sudo)

    def _sessions(self, rng: np.random.Generator, n: int) -> None:
        homes = self._ips(private_v4(rng, 3 * len(STAFF)))
        keys = len(self.aux)
        self.aux += [f"ED25519 SHA256:{_fingerprint(rng)}" for _ in STAFF]
        who = pick(rng, STAFF, n, p=[1.0 / (i + 1) for i in range(len(STAFF))])
        password = rng.random(n) < 0.3
        t0 = self.t_start + np.sort((rng.random(n) * self.span).astype(np.int64))
        frame = pl.DataFrame(
            {
                "conn": self._conn_ids(n),
                "ip": homes[who * 3 + rng.integers(0, 3, size=n)],
                "user": user_indices(STAFF, who),
                "uid": 1000 + who,
                "port": uniform_ints(rng, 1024, 65535, n),
                "pid": uniform_ints(rng, 1000, 65000, n),
                "t0": t0,
                "typos": np.where(password & (rng.random(n) < 0.2), 1 + rng.integers(0, 2, n), 0),
                "publickey": ~password,
                "key": keys + who,
                "session": 1000 + self.n_conns + np.arange(n),
                "duration": uniform_ints(rng, 30, 4 * 3600, n),
            }
        )
        self.parts.append(session_rows(frame))

    def _cron(self, rng: np.random.Generator, n: int) -> None:
        minute = (self.t_start + (rng.random(n) * self.span).astype(np.int64)) // 60 * 60
        frame = pl.DataFrame({"conn": self._conn_ids(n), "pid": uniform_ints(rng, 1000, 65000, n)})
        for seq, tmpl, at in ((0, "cron_opened", minute + 1), (1, "cron_closed", minute + 2)):
            self.parts.append(_simple(frame, at, seq, T[tmpl]))

    def _sudo(self, rng: np.random.Generator, n: int) -> None:
        who = rng.integers(0, 4, size=n)
        t = self.t_start + (rng.random(n) * self.span).astype(np.int64)
        frame = pl.DataFrame(
            {
                "conn": self._conn_ids(n),
                "user": user_indices(STAFF[:4], who),
                "aux": rng.integers(0, len(COMMANDS), size=n),
            }
        )
        tty = pl.Series(rng.integers(0, 4, size=n), dtype=pl.Int32)
        uid = pl.Series(1000 + who, dtype=pl.Int32)
        self.parts.append(_simple(frame, t, 0, T["sudo_cmd"], n=tty))
        self.parts.append(_simple(frame, t, 1, T["sudo_opened"], n=uid))
        self.parts.append(_simple(frame, t + uniform_ints(rng, 0, 30, n), 2, T["sudo_closed"]))


def _simple(
    frame: pl.DataFrame, at: np.ndarray, seq: int, tmpl: int, n: pl.Series | None = None
) -> pl.DataFrame:
    out = frame.with_columns(
        pl.Series("t", at, dtype=pl.Int64),
        pl.lit(seq, dtype=pl.Int16).alias("seq"),
        pl.lit(tmpl, dtype=pl.Int16).alias("tmpl"),
        pl.lit(0, dtype=pl.Int32).alias("attempts"),
    )
    return out.with_columns(n.alias("n")) if n is not None else out


def _fingerprint(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(alphabet[i] for i in rng.integers(0, 64, size=43))


def _timing(cls: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Connections per actor, and the seconds between one connection and the next (one
    entry per connection; an actor's first entry is unused)."""
    if cls == "exact5":
        # Five attempts whose first and last are 500-570 s apart.
        weights = rng.uniform(0.5, 1.5, size=(n, 4))
        spread = uniform_ints(rng, 500, 570, n)[:, None]
        at = np.round(spread * np.cumsum(weights, axis=1) / weights.sum(axis=1)[:, None])
        gaps = np.diff(np.concatenate([np.zeros((n, 1)), at], axis=1), axis=1)
        return np.full(n, 5), np.concatenate([np.zeros((n, 1)), gaps], axis=1).ravel()
    lo, hi, step_lo, step_hi = {
        "burst": (3, 40, 1, 8),
        "burst_v6": (3, 40, 1, 8),
        "spray": (20, 60, 5, 25),
        "slow": (10, 40, 200, 420),
        "near4": (2, 6, 10, 80),
        "scanner": (3, 30, 1, 60),
    }[cls]
    counts = uniform_ints(rng, lo, hi, n)
    if cls == "near4":
        counts = 4 * counts  # groups of four
    total = int(counts.sum())
    gaps = uniform_ints(rng, step_lo, step_hi, total)
    if cls == "near4":
        position = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        gaps = np.where(position % 4 == 0, uniform_ints(rng, 700, 2000, total), gaps)
    return counts, gaps
