"""Lines of live sources to Batches, through the parse path of `vigil analyze`
(`pipeline.chunks.parse_chunk`): the same parsers, the same rejects.

A parser is kept per (source, origin) so parsers that carry state from chunk to chunk
(the syslog year) see one input's lines in order. Without a configured format, an
origin's format is sniffed from its first lines, as `vigil analyze` does for a file.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from vigil.clock import Clock
from vigil.parsers.base import LineParser, ParseContext
from vigil.parsers.registry import get_parser
from vigil.pipeline.analyze import SNIFF_LINES, sniff
from vigil.pipeline.chunks import ParsedChunk, parse_chunk
from vigil.schema.fields import F
from vigil.sources.files import Chunk
from vigil.sources.live import Position, RawChunk

log = logging.getLogger("vigil.live")

# Parsers kept at once (one per file or network peer); the least recently used goes.
MAX_PARSERS = 4096
PARSER_FAULT = "internal error in the parser"


@dataclass
class SourceFormat:
    """How one source's lines are read: a format (None: sniffed per origin) and options."""

    format: str | None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Group:
    """Consecutive lines of one origin in a batch, parsed."""

    source: str
    origin: str
    lines: int
    events: pl.DataFrame | None
    rejects: Counter[str]
    skipped: int
    start: Position | None
    end: Position | None
    replay: bool


class LiveParsers:
    def __init__(
        self,
        formats: Mapping[str, SourceFormat],
        *,
        tz: str,
        format_options: Mapping[str, Mapping[str, str]],
        clock: Clock,
    ) -> None:
        self.formats = formats
        self.tz = tz
        self.format_options = format_options
        self.clock = clock
        self._parsers: OrderedDict[tuple[str, str], LineParser] = OrderedDict()
        self._numbers: dict[tuple[str, str], int] = {}

    def parse(self, chunks: list[RawChunk]) -> list[Group]:
        groups = []
        for run in _runs(chunks):
            groups.append(self._parse_run(run))
        return groups

    def forget(self, source: str, origin: str) -> None:
        self._parsers.pop((source, origin), None)

    def _parse_run(self, run: list[RawChunk]) -> Group:
        first = run[0]
        key = (first.source, first.origin)
        lines = [ln for c in run for ln in c.lines] if len(run) > 1 else first.lines
        rejects: Counter[str] = Counter(reason for c in run for reason, _ in c.rejects)
        group = Group(
            source=first.source,
            origin=first.origin,
            lines=len(lines) + sum(len(c.rejects) for c in run),
            events=None,
            rejects=rejects,
            skipped=0,
            start=first.start,
            end=next((c.position for c in reversed(run) if c.position is not None), None),
            replay=first.replay,
        )
        if not lines:
            return group
        number = first.first_line
        if number is None:  # network lines: numbered per origin as they come
            number = self._numbers.get(key, 1)
            self._numbers[key] = number + len(lines)
        chunk = Chunk(first.origin, number, pl.Series("line", lines, dtype=pl.String))
        parser = self._parser(key, lines)
        try:
            parsed = parse_chunk(chunk, parser)
        except Exception as e:
            # A fault inside a parser is this input's problem: its lines are counted
            # as rejects and the daemon goes on.
            log.exception("parser %s failed on %s", type(parser).__name__, first.origin)
            rejects[f"{PARSER_FAULT}: {type(e).__name__}"] += len(lines)
            self.forget(*key)
            return group
        _count(parsed, rejects)
        group.events = parsed.events
        group.skipped = parsed.skipped
        return group

    def _parser(self, key: tuple[str, str], lines: list[str]) -> LineParser | None:
        parser = self._parsers.get(key)
        if parser is not None:
            self._parsers.move_to_end(key)
            return parser
        setting = self.formats.get(key[0], SourceFormat(None))
        ctx = ParseContext(origin=key[1], tz=self.tz, now=self.clock.now())
        cls = get_parser(setting.format) if setting.format else sniff(lines[:SNIFF_LINES], ctx)
        if cls is None:
            return None  # unknown yet: these lines are rejects, the next ones sniffed again
        options = {**self.format_options.get(cls.name, {}), **setting.options}
        parser = cls(ParseContext(origin=key[1], tz=self.tz, now=self.clock.now(), options=options))
        self._parsers[key] = parser
        if len(self._parsers) > MAX_PARSERS:
            self._parsers.popitem(last=False)
        return parser


def _runs(chunks: list[RawChunk]) -> list[list[RawChunk]]:
    """Chunks grouped by (source, origin) in arrival order, each group split where its
    lines stop following on (a new file under the same name starts at line 1)."""
    by_key: dict[tuple[str, str], list[list[RawChunk]]] = {}
    for chunk in chunks:
        runs = by_key.setdefault((chunk.source, chunk.origin), [])
        if runs and _follows(runs[-1][-1], chunk) and runs[-1][-1].replay == chunk.replay:
            runs[-1].append(chunk)
        else:
            runs.append([chunk])
    return [run for runs in by_key.values() for run in runs]


def _follows(before: RawChunk, after: RawChunk) -> bool:
    """Whether `after`'s lines continue `before`'s (a chunk of rejects alone stands by
    itself: its reject holds a line number of its own)."""
    if not before.lines or not after.lines:
        return False
    if before.first_line is None or after.first_line is None:
        return before.first_line is None and after.first_line is None
    return after.first_line == before.first_line + len(before.lines)


def _count(parsed: ParsedChunk, rejects: Counter[str]) -> None:
    if parsed.rejects.height:
        counts = parsed.rejects.group_by("reason").len()
        rejects.update(dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)))


def newest_event(events: pl.DataFrame | None) -> datetime | None:
    if events is None or events.height == 0:
        return None
    newest = events.get_column(F.TIMESTAMP).max()
    return newest if isinstance(newest, datetime) else None
