"""`make eval`: measure vigil against the public datasets.

Usage: python -m eval [--datasets DIR] [--only NAME ...] [--json PATH] [-v]

Each evaluation is a function in `EVALUATIONS`: parse coverage, then the detection sets
(`eval/detection.py`).
The exit status is 0 unless the harness itself fails: missing datasets are reported as
"skipped", low figures are findings, not failures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from rich.console import Console

from eval import detection, parsing
from eval.base import DATASETS_ENV, EvalContext, EvalResult, Evaluation, datasets_root

EVALUATIONS: dict[str, Evaluation] = {parsing.NAME: parsing.evaluate, **detection.EVALUATIONS}

# Tables are wide; a pipe or a CI log is not a terminal, and rich would assume 80 columns.
PIPE_WIDTH = 180


def main(argv: list[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPE_WIDTH)
    root = datasets_root(args.datasets)
    if not root.is_dir():
        console.print(
            f"eval: datasets directory {root} not found (set ${DATASETS_ENV} or --datasets); "
            "skipped"
        )
        return 0
    results: list[EvalResult] = []
    with tempfile.TemporaryDirectory(prefix="vigil-eval-") as scratch:
        for name in args.only or list(EVALUATIONS):
            workdir = Path(scratch) / name
            workdir.mkdir()
            ctx = EvalContext(datasets=root, console=console, workdir=workdir, verbose=args.verbose)
            try:
                results.append(EVALUATIONS[name](ctx))
            except Exception:
                console.print(f"eval: evaluation {name!r} failed:")
                console.print(traceback.format_exc(), markup=False, highlight=False)
                return 1
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        doc = {r.name: {"status": r.status, "summary": r.summary, **r.details} for r in results}
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n", "utf-8")
    return 0


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", help=f"datasets directory (default: ${DATASETS_ENV} or ../shared/datasets)"
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(EVALUATIONS), help="run only this evaluation"
    )
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="every reason and input")
    return parser


if __name__ == "__main__":
    sys.exit(main())
