"""Settings of `vigil run`: the live sources (`sources:`) and the daemon (`live:`).

    sources:
      auth: {type: file, paths: [/var/log/auth.log], start_at: end}
      web:  {type: dir, paths: [/var/log/nginx], pattern: "*.log", format: apache}
      relay: {type: syslog, protocol: udp, listen: "0.0.0.0:514"}
    live:
      batch_lines: 5000
      batch_ms: 100
      metrics: 127.0.0.1:9466

A source's name is its key; it names its checkpoints, so renaming a source starts it
over (as on a first start).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from vigil.config.durations import Duration
from vigil.errors import UsageError
from vigil.parsers.registry import get_parser
from vigil.sources.net_settings import HttpSettings, JournaldSettings, SyslogSettings, parse_listen
from vigil.sources.tail import DEFAULT_MAX_LINE

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Chosen with bench/live.py on the 2-core reference machine (README, "Live monitoring"):
# a batch closes after batch_ms while the pipeline keeps up, so batch_lines only sizes
# the batches of a backlog, where bigger batches keep up with more (300k lines/s).
DEFAULT_BATCH_LINES = 50_000
DEFAULT_BATCH_MS = 100
DEFAULT_QUEUE_CHUNKS = 16
DEFAULT_POLL = 0.1
DEFAULT_METRICS = "127.0.0.1:9466"


class _Strict(BaseModel):
    # Validators are built on first use, not at import (see vigil.config.loader._defaults).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _known_format(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        get_parser(value)
    except UsageError as e:
        raise ValueError(e.message) from None
    return value


class _TailSettings(_Strict):
    format: str | None = Field(default=None, description="parser; detected per file if absent")
    options: dict[str, str] = Field(default_factory=dict, description="parser options")
    start_at: Literal["end", "beginning"] = Field(
        default="end", description="where files present on the source's first start are read from"
    )
    poll_interval: float = Field(
        default=DEFAULT_POLL, ge=0.01, le=60, description="seconds between checks for new lines"
    )
    rotate_wait: Duration = Field(
        default=timedelta(seconds=5),
        description="how long a rotated file is still read for late writes",
    )
    max_line_bytes: int = Field(default=DEFAULT_MAX_LINE, ge=1024, le=64 << 20)

    _format = field_validator("format")(_known_format)


class FileSourceSettings(_TailSettings):
    """Files named by paths or glob patterns (`**` recurses); new matches are picked up."""

    type: Literal["file"]
    paths: list[str] = Field(min_length=1, description="files or glob patterns")


class DirSourceSettings(_TailSettings):
    """Every file of directories whose name matches `pattern`, as they come and go."""

    type: Literal["dir"]
    paths: list[Path] = Field(min_length=1, description="directories")
    pattern: str = Field(default="*", description="file names to follow (glob)")
    recursive: bool = Field(default=False, description="also in subdirectories")

    def patterns(self) -> list[str]:
        middle = "**" if self.recursive else ""
        return [str(Path(d) / middle / self.pattern) for d in self.paths]


SourceSettings = Annotated[
    FileSourceSettings | DirSourceSettings | SyslogSettings | HttpSettings | JournaldSettings,
    Field(discriminator="type"),
]


def _names(sources: dict[str, object]) -> dict[str, object]:
    for name in sources:
        if not _SOURCE_NAME.match(name):
            raise ValueError(
                f"source name {name!r}: letters, digits, '_', '.' and '-' only (at most 64)"
            )
    return sources


Sources = Annotated[dict[str, SourceSettings], AfterValidator(_names)]


class LiveSettings(_Strict):
    batch_lines: int = Field(
        default=DEFAULT_BATCH_LINES, ge=1, le=1_000_000, description="a batch closes at this size"
    )
    batch_ms: int = Field(
        default=DEFAULT_BATCH_MS, ge=1, le=60_000, description="... or this long after it opened"
    )
    queue_chunks: int = Field(
        default=DEFAULT_QUEUE_CHUNKS,
        ge=1,
        le=100_000,
        description="chunks (up to 1 MiB of lines each) waiting between sources and pipeline",
    )
    tick: float = Field(
        default=1.0, ge=0.05, le=60, description="seconds between timer runs (expiry, status)"
    )
    metrics: str | None = Field(
        default=DEFAULT_METRICS, description="HOST:PORT of /metrics and /healthz; null: off"
    )
    log_format: Literal["json", "text"] = Field(default="json", description="daemon log lines")

    @field_validator("metrics")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value
