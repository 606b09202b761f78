"""Generate a synthetic security log and its ground truth, deterministically.

    python bench/generate.py sshd --lines 1000000 --seed 1 --out bench/out/auth_1M.log

writes the log and `<out>.truth.json` (planted attackers, what a correct detector must flag,
computed from the lines written). The same format, lines, seed and options give the same
bytes. Importable: `generate(...)` returns the `Generated` log without writing it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so `bench.loggen` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loggen.apache import ApacheSpec, generate_apache
from bench.loggen.common import DEFAULT_START, Generated
from bench.loggen.firewall import FirewallSpec, generate_firewall
from bench.loggen.sshd import SshdSpec, generate_sshd

FORMATS = ("sshd", "apache", "firewall")


def generate(
    fmt: str,
    lines: int,
    *,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    lines_per_day: int | None = None,
    **options: Any,
) -> Generated:
    """A generated log of `lines` lines. `options` go to the format's spec (e.g. `mix`,
    `max_failures`, `window`, `flood_threshold`)."""
    if lines < 1:
        raise ValueError(f"lines must be positive, got {lines}")
    spec: SshdSpec | ApacheSpec | FirewallSpec
    if fmt == "sshd":
        spec = SshdSpec(lines=lines, seed=seed, start=start, **options)
    elif fmt == "apache":
        spec = ApacheSpec(lines=lines, seed=seed, start=start, **options)
    elif fmt == "firewall":
        spec = FirewallSpec(lines=lines, seed=seed, start=start, **options)
    else:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if lines_per_day is not None:
        spec = replace(spec, lines_per_day=lines_per_day)
    if isinstance(spec, SshdSpec):
        return generate_sshd(spec)
    if isinstance(spec, ApacheSpec):
        return generate_apache(spec)
    return generate_firewall(spec)


def write(fmt: str, lines: int, out: Path, **kwargs: Any) -> dict[str, Any]:
    """Generate and write `out` and `<out>.truth.json`; return the truth."""
    return generate(fmt, lines, **kwargs).write(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--start",
        type=lambda s: datetime.fromisoformat(s).replace(tzinfo=UTC),
        default=DEFAULT_START,
        help="first timestamp, ISO 8601 in UTC (default %(default)s)",
    )
    parser.add_argument(
        "--lines-per-day", type=int, default=None, help="density, which sets the time span"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    truth = write(
        args.format,
        args.lines,
        args.out,
        seed=args.seed,
        start=args.start,
        lines_per_day=args.lines_per_day,
    )
    took = time.perf_counter() - began
    print(
        f"{args.out}: {args.lines:,} {args.format} lines, {truth['start']} .. {truth['end']},"
        f" sha256 {truth['log_sha256'][:16]}…, {took:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
