"""The contract between live sources (file tail, syslog, HTTP ingest, journald) and the
`vigil run` pipeline.

A source reads on its own thread (or event loop) and hands over RawChunks through the
`deliver` callable it was started with. `deliver` may block: that is the back-pressure
of a file source. A datagram source cannot wait, so it counts what it drops instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Position:
    """Where a file source has read up to: the next byte to read in the file whose first
    bytes hash to `fingerprint`, and the 1-based number of the next line."""

    path: str
    fingerprint: str
    offset: int
    line: int


@dataclass(frozen=True)
class RawChunk:
    source: str  # the configured source name
    origin: str  # file path, or peer such as "udp://192.0.2.1:514", "http", "journald"
    lines: list[str]
    received_at: datetime
    # 1-based line number of lines[0] in origin (files); None for network sources.
    first_line: int | None = None
    # Position after the last line (files only): committed once the chunk's alerts are.
    position: Position | None = None
    # Position of the first line (files only): where a replay that needs this chunk starts.
    start: Position | None = None
    # Lines already committed by an earlier run, read again to rebuild window state: they
    # feed detection, but their alerts and actions were recorded then.
    replay: bool = False
    # Lines refused before parsing (bad framing, oversize, undecodable): (reason, raw text).
    rejects: list[tuple[str, str]] = field(default_factory=list)


Deliver = Callable[[RawChunk], None]


@dataclass
class SourceStats:
    name: str
    kind: str
    lines: int = 0
    bytes: int = 0
    rejected: int = 0
    dropped: int = 0  # lost before reaching the pipeline (full queue of a datagram source)
    # Event time of the newest line delivered, and when it was delivered: the lag.
    last_received: datetime | None = None
    detail: dict[str, str] = field(default_factory=dict)


class LiveSource(Protocol):
    name: str
    kind: str

    def start(self, deliver: Deliver) -> None:
        """Begin reading in the background; return at once."""
        ...

    def stop(self) -> None:
        """Stop reading and return once no more chunks will be delivered."""
        ...

    def stats(self) -> SourceStats: ...
