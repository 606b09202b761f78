"""What every evaluation shares: where the datasets are, and what an evaluation returns."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_ENV = "VIGIL_DATASETS"
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def datasets_root(explicit: str | None = None) -> Path:
    """`--datasets`, else `$VIGIL_DATASETS`, else `../shared/datasets` beside the repo."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(DATASETS_ENV)
    return Path(from_env) if from_env else DEFAULT_DATASETS


@dataclass(frozen=True)
class EvalContext:
    datasets: Path
    console: Console
    # A scratch directory the evaluation may write to (removed afterwards).
    workdir: Path
    verbose: bool = False


@dataclass
class EvalResult:
    name: str
    # "ok", or "skipped" when none of the evaluation's datasets is present.
    status: str
    # One line for the final summary.
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


# An evaluation prints its own tables on ctx.console and returns its result.
Evaluation = Callable[[EvalContext], EvalResult]
