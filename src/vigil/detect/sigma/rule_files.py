"""Where rules come from: the rule files under the given paths, and what went wrong
reading them (a `RuleLoadError` keeps its file, line and column).

No pySigma here: the rule-pack cache finds and fingerprints the files without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import Location

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class RuleLoadError:
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def location(self) -> Location:
        return Location(self.path, self.line, self.column)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def rule_files(paths: Iterable[str | Path]) -> Iterator[Path | RuleLoadError]:
    """The rule files under `paths` (folders recursively, sorted), or an error per bad path."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
            yield from found
        elif path.is_file():
            yield path
        else:
            yield RuleLoadError(str(path), "no such file or directory")
