"""What every vigil command shares: global options, the config, and how errors end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from vigil.config.loader import load_config
from vigil.config.models import VigilConfig
from vigil.errors import ExitCode, VigilError


@dataclass
class GlobalOptions:
    debug: bool = False
    state_dir_flag: Path | None = None
    config_path: Path | None = None
    _config: VigilConfig | None = None

    @property
    def config(self) -> VigilConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def state_dir(self) -> Path:
        return self.state_dir_flag or self.config.state_dir or Path("var")


state = GlobalOptions()
stderr = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a VigilError into a one-line message on stderr and its exit code."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except VigilError as e:
            if state.debug:
                raise
            stderr.print(f"error: {e}", markup=False, soft_wrap=True)
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt:
            stderr.print("interrupted", markup=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper
