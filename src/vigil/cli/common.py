"""What every vigil command shares: global options, the config, and how errors end.

Start-up is part of every command's run time (a `vigil analyze` of a small file is
mostly imports), so the command modules import at their top only typer and what their
options need; each command imports its implementation when it runs. The config models
(pydantic) load with the first `state.config`, rich with the first message printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from vigil.errors import ExitCode, VigilError

if TYPE_CHECKING:
    from rich.console import Console

    from vigil.config.models import VigilConfig


@dataclass
class GlobalOptions:
    debug: bool = False
    state_dir_flag: Path | None = None
    config_path: Path | None = None
    _config: VigilConfig | None = None

    @property
    def config(self) -> VigilConfig:
        if self._config is None:
            from vigil.config.loader import load_config  # noqa: PLC0415 - see the docstring

            self._config = load_config(self.config_path)
        return self._config

    @property
    def state_dir(self) -> Path:
        return self.state_dir_flag or self.config.state_dir or Path("var")


state = GlobalOptions()


@cache
def stderr() -> Console:
    """The console of error and warning lines."""
    from rich.console import Console  # noqa: PLC0415 - see the docstring

    return Console(stderr=True, highlight=False)


def stdout(width: int = 132) -> Console:
    """The console of tables and reports: the terminal's width, or `width` when the
    output is piped or captured (rich would assume 80 columns and fold names and
    addresses in two)."""
    import sys  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415 - see `stderr`

    return Console(highlight=False, width=None if sys.stdout.isatty() else width)


def print_error(message: str) -> None:
    """One line on stderr, printed as written (no markup, never folded)."""
    stderr().print(message, markup=False, soft_wrap=True)


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
            print_error(f"error: {e}")
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt:
            stderr().print("interrupted", markup=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper


# How to read inputs: the options `analyze` and `rules test` share.
FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help="Skip detection and read every input as FORMAT."),
]
YearOption = Annotated[
    int | None, typer.Option("--year", help="Year of syslog timestamps that carry none.")
]
TzOption = Annotated[
    str | None,
    typer.Option("--tz", help="Zone of timestamps that carry none (default: config, else UTC)."),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="CSV column to field, COLUMN=FIELD (repeatable)."),
]
ParserOptionOption = Annotated[
    list[str] | None,
    typer.Option("--parser-option", "-o", help="Parser option KEY=VALUE (repeatable)."),
]
