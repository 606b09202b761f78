"""Re-create the bundled sample logs and their ground truth, byte for byte:

    python bench/samples/generate.py          # rewrite samples/*.log and bench/samples/truth/*.json
    python bench/samples/generate.py --check  # exit 1 if a file differs from a fresh run

The logs go to `samples/` at the repository root (what `make run` analyses, so nothing but
logs lives there); their truth goes to `bench/samples/truth/`. Fixed seeds and fixed actor
mixes; see bench/samples/README.md for what each file holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so `bench.loggen` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.generate import generate
from bench.loggen.apache import ApacheMix
from bench.loggen.firewall import FirewallMix
from bench.loggen.sshd import SshdMix

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOGS = ROOT / "samples"
TRUTH = HERE / "truth"


@dataclass(frozen=True)
class Sample:
    name: str
    format: str
    lines: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)


SAMPLES = (
    Sample(
        "auth.log",
        "sshd",
        2000,
        seed=11,
        options={
            "lines_per_day": 2000,
            "mix": SshdMix(burst=3, burst_v6=1, spray=1, slow=1, near4=1, exact5=1, scanner=2),
        },
    ),
    Sample(
        "access.log",
        "apache",
        2200,
        seed=12,
        options={
            "lines_per_day": 2200,
            "ipv6_share": 0.5,
            "mix": ApacheMix(
                scanner=1,
                sqlmap=1,
                sqli=1,
                xss=1,
                traversal=1,
                cmdi=1,
                log4shell=2,
                burst404=1,
                burst401=1,
                burst403=1,
            ),
        },
    ),
    Sample(
        "firewall.log",
        "firewall",
        3500,
        seed=13,
        options={
            "lines_per_day": 3500,
            "mix": FirewallMix(flood=2, near_flood=2, vertical=1, horizontal=1),
        },
    ),
)


def truth_path(truth_dir: Path, sample: Sample) -> Path:
    return truth_dir / (Path(sample.name).stem + ".truth.json")


def write_all(log_dir: Path, truth_dir: Path) -> list[tuple[Path, Path]]:
    """Write every sample log and its truth; return (written, committed) path pairs."""
    written = []
    for sample in SAMPLES:
        generated = generate(sample.format, sample.lines, seed=sample.seed, **sample.options)
        log, truth = log_dir / sample.name, truth_path(truth_dir, sample)
        log_dir.mkdir(parents=True, exist_ok=True)
        truth_dir.mkdir(parents=True, exist_ok=True)
        generated.write(log, truth)
        written += [(log, LOGS / sample.name), (truth, truth_path(TRUTH, sample))]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if not args.check:
        for path, _ in write_all(LOGS, TRUTH):
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        differ = [
            committed.relative_to(ROOT)
            for fresh, committed in write_all(Path(tmp) / "logs", Path(tmp) / "truth")
            if not committed.is_file() or committed.read_bytes() != fresh.read_bytes()
        ]
    for rel in differ:
        print(f"differs: {rel}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
