"""Golden sample logs: each line of evidence follows its expectation (the fail2ban habit).

A sample file `tests/data/samples/<parser>/<name>.log` holds log lines and annotation
lines starting with `#! `; annotations are removed before parsing. Directives:

    #! context {"year": 2026, "tz": "UTC", "options": {...}, "mtime": "2026-12-31T00:00:00Z"}
        (once, before any line) the ParseContext of the file
    #! expect {"source.ip": "203.0.113.7", "@timestamp": "2026-11-22T10:00:01Z", ...}
        the next line is an event with these fields (a subset; null = absent or null)
    #! reject [reason fragment]
        the next line is rejected (and the reason contains the fragment)
    #! skip
        the next line is neither event nor reject (a header or comment)

Every log line must be annotated, so no line's fate goes unchecked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "data" / "samples"
PREFIX = "#! "


@dataclass
class Expectation:
    kind: str  # "expect", "reject" or "skip"
    detail: Any
    sample_line: int  # line in the sample file, for messages


@dataclass
class SampleFile:
    path: Path
    context: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    def where(self, i: int) -> str:
        return f"{self.path.relative_to(SAMPLES)}:{self.expectations[i].sample_line}"


def load_sample(path: Path) -> SampleFile:
    sample = SampleFile(path)
    pending: Expectation | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if raw.startswith(PREFIX):
            verb, _, rest = raw[len(PREFIX) :].partition(" ")
            if verb == "context":
                sample.context = json.loads(rest)
                continue
            if pending is not None:
                raise ValueError(f"{path}:{number}: two annotations for one line")
            if verb == "expect":
                pending = Expectation("expect", json.loads(rest), number)
            elif verb in ("reject", "skip"):
                pending = Expectation(verb, rest.strip(), number)
            else:
                raise ValueError(f"{path}:{number}: unknown directive {verb!r}")
            continue
        if raw == "" and pending is None:
            continue
        if pending is None:
            raise ValueError(f"{path}:{number}: log line without an expectation")
        sample.lines.append(raw)
        sample.expectations.append(pending)
        pending = None
    if pending is not None:
        raise ValueError(f"{path}: annotation at the end with no line after it")
    return sample


def sample_files(parser: str | None = None) -> list[Path]:
    root = SAMPLES if parser is None else SAMPLES / parser
    return sorted(root.rglob("*.log"))


def normalise(value: Any) -> Any:
    """Actual values as the JSON annotations spell them."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        text = value.isoformat().replace("+00:00", "Z")
        return text.replace(".000000Z", "Z")
    return value
