"""What every generator shares: seeded random streams, address pools, line templates,
per-actor timelines and the writer.

Generators build a compact *record table* (one row per log line, integers only: time,
template code, indices into string tables) with numpy, sort it by time, cut it to the
requested number of lines, and only then render text, chunk by chunk, with polars string
expressions. Ground truth is computed from the rows that were kept, so it describes exactly
the lines written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import string
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

DEFAULT_START = datetime(2026, 11, 21, tzinfo=UTC)
RENDER_CHUNK_ROWS = 500_000

# Attackers come from the documentation ranges (RFC 5737) first; a big benchmark file that
# needs more distinct attackers than those 762 hosts continues in 198.18.0.0/16, half of the
# range RFC 2544 reserves for benchmarking (the firewall generator puts "internet servers" in
# the other half, 198.19.0.0/16). None of these ranges belongs to anyone.
DOC_V4_NETS = ("192.0.2.0", "198.51.100.0", "203.0.113.0")
BENCH_V4_NET = "198.18.0.0"
BENCH_V4_SIZE = 1 << 16


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per (seed, purpose), so that adding draws for one actor
    class never shifts the numbers of another."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def ipv4_to_int(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def ipv4_strings(values: np.ndarray) -> pl.Series:
    """Dotted quads for an array of 32-bit integers (vectorised)."""
    v = pl.Series(values.astype(np.int64))
    frame = pl.DataFrame({"v": v})
    return frame.select(
        pl.concat_str(
            [(pl.col("v") // (1 << s) % 256).cast(pl.String) for s in (24, 16, 8, 0)], separator="."
        )
    ).to_series()


def ipv6_strings(high: np.ndarray, low: np.ndarray) -> pl.Series:
    """2001:db8: + two 16-bit groups from `high` + `::` + `low`, e.g. 2001:db8:1a:2b::3c."""
    # One string per IPv6 *actor* (thousands at most), not per line.
    return pl.Series(
        [f"2001:db8:{h >> 16:x}:{h & 0xFFFF:x}::{lo:x}" for h, lo in zip(high, low, strict=True)],
        dtype=pl.String,
    )


class AttackerPool:
    """Distinct attacker addresses for one file: documentation ranges first (shuffled), then
    the RFC 2544 benchmarking range. IPv6 attackers get distinct 2001:db8::/32 addresses."""

    def __init__(self, rng: np.random.Generator, exclude_nets: Sequence[str] = ()) -> None:
        """`exclude_nets`: documentation /24s the file uses for the defended side."""
        doc = np.concatenate(
            [
                ipv4_to_int(net) + np.arange(1, 255, dtype=np.int64)
                for net in DOC_V4_NETS
                if net not in exclude_nets
            ]
        )
        bench = ipv4_to_int(BENCH_V4_NET) + np.arange(1, BENCH_V4_SIZE - 1, dtype=np.int64)
        bench = bench[(bench & 255 != 0) & (bench & 255 != 255)]
        self._v4 = np.concatenate([rng.permutation(doc), rng.permutation(bench)])
        self._v6 = rng.choice(1 << 32, size=1 << 16, replace=False)
        self._rng = rng
        self._next_v4 = 0
        self._next_v6 = 0

    def take_v4(self, n: int) -> pl.Series:
        if self._next_v4 + n > len(self._v4):
            raise ValueError(f"more than {len(self._v4)} distinct IPv4 attackers requested")
        out = self._v4[self._next_v4 : self._next_v4 + n]
        self._next_v4 += n
        return ipv4_strings(out)

    def take_v6(self, n: int) -> pl.Series:
        if self._next_v6 + n > len(self._v6):
            raise ValueError(f"more than {len(self._v6)} distinct IPv6 attackers requested")
        high = self._v6[self._next_v6 : self._next_v6 + n]
        self._next_v6 += n
        low = self._rng.integers(1, 1 << 16, size=n)
        return ipv6_strings(high, low)


PRIVATE_V4 = (
    (ipv4_to_int("10.0.0.0"), 24),
    (ipv4_to_int("172.16.0.0"), 20),
    (ipv4_to_int("192.168.0.0"), 16),
)


def private_v4(rng: np.random.Generator, n: int) -> pl.Series:
    """Benign addresses from the RFC 1918 ranges (repeats are fine: clients come back)."""
    which = rng.choice(len(PRIVATE_V4), size=n, p=[0.6, 0.25, 0.15])
    base = np.array([b for b, _ in PRIVATE_V4], dtype=np.int64)[which]
    size = np.array([1 << bits for _, bits in PRIVATE_V4], dtype=np.int64)[which]
    # Host parts 1..254 in the last octet: no network or broadcast-looking addresses.
    host = (rng.random(n) * (size >> 8)).astype(np.int64) * 256 + rng.integers(1, 255, size=n)
    return ipv4_strings(base + host)


def timelines(
    starts: np.ndarray, counts: np.ndarray, gaps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-actor event times. Actor g has counts[g] events; its first is at starts[g] and each
    next one follows after the matching entry of `gaps` (one gap per event; the gap of an
    actor's first event is ignored). Returns (owner, position within actor, time)."""
    counts = counts.astype(np.int64)
    if np.any(counts < 1):
        raise ValueError("every actor needs at least one event")
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    g = gaps.astype(np.int64).copy()
    g[first] = 0
    run = np.cumsum(g)
    offset = run - np.repeat(run[first], counts)
    position = np.arange(len(owner)) - np.repeat(first, counts)
    return owner, position, starts.astype(np.int64)[owner] + offset


def place(
    rng: np.random.Generator, t0: int, span: int, counts: np.ndarray, gaps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`timelines` for actors whose starts are drawn so that each one ends inside
    [t0, t0 + span) when it fits (a longer actor starts at t0)."""
    owner, position, offset = timelines(np.zeros(len(counts), dtype=np.int64), counts, gaps)
    duration = offset[np.cumsum(counts) - 1]
    room = np.maximum(1, span - duration)
    starts = t0 + (rng.random(len(counts)) * room).astype(np.int64)
    return owner, position, starts[owner] + offset


def pick(
    rng: np.random.Generator, choices: Sequence[Any], n: int, p: Sequence[float] | None = None
) -> np.ndarray:
    """n indices into `choices`, optionally weighted (weights need not sum to one)."""
    if p is None:
        return rng.integers(0, len(choices), size=n)
    w = np.asarray(p, dtype=np.float64)
    return rng.choice(len(choices), size=n, p=w / w.sum())


@dataclass(frozen=True)
class Template:
    """One kind of line: `text` in str.format syntax whose fields name record columns."""

    text: str
    prog: str = ""
    # Whether the syslog tag carries a pid (`sshd[123]:`) or not (`sudo:`).
    pid: bool = True

    def fields(self) -> list[str]:
        return [f for _, f, _, _ in string.Formatter().parse(self.text) if f]

    def expr(self) -> pl.Expr:
        parts: list[pl.Expr] = []
        for literal, name, _, _ in string.Formatter().parse(self.text):
            if literal:
                parts.append(pl.lit(literal))
            if name:
                parts.append(pl.col(name).cast(pl.String))
        return pl.concat_str(parts)


def render_templates(frame: pl.DataFrame, templates: Sequence[Template]) -> pl.Series:
    """Each row rendered with the template its `tmpl` code names. One polars pass per
    template (a few dozen), over only that template's rows."""
    indexed = frame.with_row_index("_row")
    parts = []
    for code in indexed.get_column("tmpl").unique().sort().to_list():
        rows = indexed.filter(pl.col("tmpl") == code)
        parts.append(rows.select("_row", templates[code].expr().alias("text")))
    out = pl.concat(parts).sort("_row").get_column("text")
    if out.null_count():
        raise ValueError("a template field was null: generator bug")
    return out


@dataclass
class Generated:
    """A generated log: its rows (sorted, already cut to size), how to render them, and the
    ground truth computed from exactly those rows."""

    format: str
    records: pl.DataFrame
    # String tables that integer record columns index (column name -> values).
    tables: Mapping[str, pl.Series]
    render: Callable[[pl.DataFrame], pl.Series]
    truth: dict[str, Any] = field(default_factory=dict)

    def text_chunks(self, rows: int = RENDER_CHUNK_ROWS) -> Iterator[pl.Series]:
        for offset in range(0, self.records.height, rows):
            chunk = self.records.slice(offset, rows)
            resolved = chunk.with_columns(
                table.gather(chunk.get_column(name)).alias(name)
                for name, table in self.tables.items()
                if name in chunk.columns
            )
            yield self.render(resolved)

    def write(self, path: Path, truth_path: Path | None = None) -> dict[str, Any]:
        """Write the log and its truth (default `<path>.truth.json`); return the truth."""
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(path, "wb") as out:
            for text in self.text_chunks():
                buffer = io.BytesIO()
                pl.DataFrame({"l": text}).write_csv(
                    buffer, include_header=False, quote_style="never"
                )
                encoded = buffer.getvalue()
                digest.update(encoded)
                out.write(encoded)
        # A log's mtime is its last write: year-less syslog stamps are dated against it.
        last = int(self.records.get_column("t").max()) + 1  # type: ignore[arg-type]
        os.utime(path, (last, last))
        truth = {**self.truth, "log_bytes": path.stat().st_size, "log_sha256": digest.hexdigest()}
        target = truth_path or path.with_name(path.name + ".truth.json")
        target.write_text(json.dumps(truth, indent=1, sort_keys=False) + "\n")
        return truth


def finish(frame: pl.DataFrame, lines: int, order: Sequence[str]) -> pl.DataFrame:
    """Sort rows by time (ties: by `order`) and keep `lines` of them, dropping the latest
    *background* rows (those without an `actor`): every planted attacker stays whole."""
    if frame.height < lines:
        raise ValueError(f"generated only {frame.height} of {lines} lines: generator bug")
    rows = frame.sort(["t", *order])
    background = pl.col("actor").is_null()
    from_end = background.cast(pl.Int64).cum_sum(reverse=True)
    kept = rows.filter(~(background & (from_end <= rows.height - lines)))
    # Only when attackers alone outnumber `lines` does the cut reach them.
    return kept.head(lines)


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_expr(column: str) -> pl.Expr:
    """Whole epoch seconds as ISO 8601 UTC text, vectorised."""
    return pl.from_epoch(pl.col(column), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def stack(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate record parts that may lack some columns (they become null)."""
    return pl.concat([p for p in parts if p.height], how="diagonal_relaxed")


def codes(names: Sequence[str]) -> dict[str, int]:
    """Template name -> code (its position)."""
    return {name: i for i, name in enumerate(names)}


def uniform_ints(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """n integers in [lo, hi] inclusive."""
    return rng.integers(lo, hi + 1, size=n)


MixT = TypeVar("MixT")


def scale_mix(mix: MixT, lines: int, least: Mapping[str, int] | None = None) -> MixT:
    """A per-million actor mix scaled to a file of `lines` lines, each class keeping at
    least `least[name]` actors (1 by default)."""
    floor = least or {}
    counts: dict[str, Any] = {
        f.name: max(floor.get(f.name, 1), round(getattr(mix, f.name) * lines / 1e6))
        for f in fields(mix)  # type: ignore[arg-type]
    }
    return replace(mix, **counts)  # type: ignore[type-var]
