"""Correlation engine throughput: 1M matching events, 10k keys, event_count and value_count,
or the bundled pack's correlations on the matches of real log files.

    .venv/bin/python -m bench.bench_correlation [--events 1000000] [--keys 10000] [--batch 100000]
    .venv/bin/python -m bench.bench_correlation --log bench/out/auth_1M.log [--log ...]

Events span one day in time order with a little jitter inside each batch; 1% of the keys
are attackers that send 30% of the events. Prints events/s of `process` (+ the final
flush) for each rule (event_count gte 5, the same as a range gte 5 lt 100, value_count
gte 20 and gte 3), batched and in one go, with alerts raised and peak live state.

With `--log`, each file is parsed as `vigil analyze` parses it, the bundled pack's Sigma
rules run once on its Batches, and the engine of its correlations is timed over their
matches, batch by batch and flushed as `vigil analyze` does: CPU seconds (best of
`--repeat`), of which building the alerts (`evidence.alerts_for`), and the alerts.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.clock import FixedClock
from vigil.detect.correlation import (
    Bound,
    CorrelationEngine,
    CorrelationKind,
    CorrelationSpec,
    RuleRef,
)

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def events(n: int, keys: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ips = np.array([f"2001:db8::{i:x}" for i in range(keys)])
    attackers = max(1, keys // 100)
    heavy = rng.random(n) < 0.3
    who = np.where(heavy, rng.integers(0, attackers, n), rng.integers(0, keys, n))
    day_us = 86_400_000_000
    ts = np.sort(rng.integers(0, day_us, n)) + rng.integers(-2_000_000, 2_000_000, n)
    users = np.array([f"user{i}" for i in range(200)])
    return pl.DataFrame(
        {
            "@timestamp": pl.Series(ts + int(T0.timestamp() * 1e6)).cast(pl.Datetime("us", "UTC")),
            "source.ip": ips[who],
            "user.name": users[rng.integers(0, 200, n)],
            "event.count": np.ones(n, dtype=np.uint32),
            "log.file.path": "auth.log",
            "log.file.line": np.arange(1, n + 1, dtype=np.uint64),
            "message": "Failed password",
        }
    )


def spec(kind: CorrelationKind, threshold: int, below: int | None = None) -> CorrelationSpec:
    return CorrelationSpec(
        rule_id=str(kind),
        name=str(kind),
        title=str(kind),
        level="high",
        tags=(),
        kind=kind,
        rules=(RuleRef("failed", ("failed",), ("source.ip",), "user.name"),),
        group_by=("source.ip",),
        timespan=timedelta(minutes=10),
        bounds=(Bound("gte", threshold),) + ((Bound("lt", below),) if below else ()),
    )


def run(rule: CorrelationSpec, frame: pl.DataFrame, batch: int) -> tuple[float, float, int, int]:
    engine = CorrelationEngine([rule], clock=FixedClock(T0 + timedelta(days=2)))
    slices = [frame.slice(i, batch).rechunk() for i in range(0, frame.height, batch)]
    alerts, peak = 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    for piece in slices:
        alerts += len(engine.process({"failed": piece}))
        peak = max(peak, engine.stats()[0].rows)
    alerts += len(engine.flush(T0 + timedelta(days=2)))
    return time.perf_counter() - start, time.process_time() - cpu, alerts, peak


def run_logs(paths: list[str], repeat: int) -> None:
    from bench.bench_sigma import bundled_detector, log_batches  # noqa: PLC0415
    from vigil.detect.correlation import state  # noqa: PLC0415

    detector, pack = bundled_detector()
    print(f"bundled pack: {len(pack.correlations)} correlations")
    building = [0.0]
    alerts_for = state.alerts_for

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return alerts_for(*args, **kwargs)
        finally:
            building[0] += time.process_time() - start

    state.alerts_for = timed  # type: ignore[assignment]
    try:
        for path in paths:
            feed = []
            for batch in log_batches(path):
                _, matches = detector.process_with_matches(batch)
                feed.append((matches, batch.get_column("@timestamp").max()))
            horizon = max(s.timespan for s in pack.correlations)
            best: tuple[float, float, int] | None = None
            for _ in range(repeat):
                engine = CorrelationEngine(pack.correlations, max_skew=None)
                building[0] = 0.0
                start, found = time.process_time(), 0
                for matches, end in feed:
                    found += len(engine.process(matches, batch_end=end))
                newest = max(end for _, end in feed)
                found += len(engine.flush(newest + 2 * horizon + timedelta(seconds=1)))
                cpu = time.process_time() - start
                best = (cpu, building[0], found) if best is None or cpu < best[0] else best
            assert best is not None
            rows = sum(f.height for m, _ in feed for f in m.values())
            print(
                f"{Path(path).name}: {len(feed)} batches, {rows:,} matching rows: "
                f"cpu {best[0]:.3f}s (best of {repeat}), of which alerts_for {best[1]:.3f}s; "
                f"{best[2]:,} alerts"
            )
    finally:
        state.alerts_for = alerts_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--only", choices=[str(k) for k in CorrelationKind])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--log", action="append", help="run the bundled pack on this log")
    args = parser.parse_args()
    if args.log:
        run_logs(args.log, args.repeat)
        return
    frame = events(args.events, args.keys)
    rules = [
        spec(CorrelationKind.EVENT_COUNT, 5),
        spec(CorrelationKind.EVENT_COUNT, 5, below=100),
        spec(CorrelationKind.VALUE_COUNT, 20),
        spec(CorrelationKind.VALUE_COUNT, 3),
    ]
    rules = [r for r in rules if args.only in (None, str(r.kind))]
    for rule in rules:
        for batch in (args.batch, args.events):
            runs = sorted(run(rule, frame, batch) for _ in range(3))
            wall, cpu, alerts, peak = runs[1]  # the median run by wall time
            print(
                f"{rule.kind:<12} {_condition(rule):<14} batch {batch:>9,}: "
                f"{args.events / wall / 1e6:5.2f} M events/s wall, "
                f"{args.events / cpu / 1e6:5.2f} M per CPU-s (median of 3: {wall:.3f} s)  "
                f"alerts {alerts:,}  peak rows held {peak:,}"
            )


def _condition(rule: CorrelationSpec) -> str:
    return " ".join(f"{b.op} {b.value:g}" for b in rule.bounds)


if __name__ == "__main__":
    main()
