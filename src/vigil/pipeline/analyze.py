"""`vigil analyze`: the pipeline over a finite set of inputs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import polars as pl

from vigil.clock import Clock, SystemClock
from vigil.errors import SourceError
from vigil.parsers.base import LINE, REASON, LineParser, ParseContext
from vigil.parsers.registry import PARSERS, get_parser
from vigil.pipeline.chunks import (
    END_TIME,
    FIRST_TIME,
    ParsedChunk,
    finish_chunk,
    in_order,
    prepare_chunk,
)
from vigil.pipeline.merge import TimeMerge
from vigil.pipeline.report import AnalysisReport, FileReport
from vigil.pipeline.sinks import BatchSink, RejectWriter
from vigil.schema.fields import F
from vigil.sources.files import DEFAULT_BLOCK_BYTES, STDIN, LineReader, file_mtime

SNIFF_LINES = 64
# Chunks parsed at once by parsers whose chunks are independent (one per core here).
PARSE_WORKERS = 2

# Called after each chunk with (path, bytes read so far of this input).
Progress = Callable[[str, int], None]


@dataclass
class AnalyzeOptions:
    format: str | None = None
    year: int | None = None
    tz: str = "UTC"
    # Options for every parser (from the command line) ...
    parser_options: Mapping[str, str] = field(default_factory=dict)
    # ... over options per format (from vigil.yaml `parsers:`).
    format_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    block_bytes: int = DEFAULT_BLOCK_BYTES
    # Threads parsing chunks (one for parsers that carry state from chunk to chunk);
    # each holds a chunk in memory. 0: parse on the calling thread.
    parse_workers: int = PARSE_WORKERS
    clock: Clock = field(default_factory=SystemClock)

    def of_format(self, name: str) -> dict[str, str]:
        """The options a parser of this format reads an input with."""
        return {**self.format_options.get(name, {}), **self.parser_options}


def analyze(
    inputs: Sequence[str],
    options: AnalyzeOptions,
    *,
    sinks: Sequence[BatchSink] = (),
    rejects: RejectWriter | None = None,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
) -> AnalysisReport:
    """Parse every input and feed its Batches to the sinks. Per-file failures (missing,
    binary, unreadable, or a fault inside a parser) are recorded in the report and passed
    to `on_error`; the other inputs go on.

    The sinks get the events of all inputs in event-time order (see `merge`): each
    input's format and first event time are read first, then the input whose newest
    event is oldest is read next, and an input is opened once the others reach its first
    event. Inputs that do not overlap in time are read one after the other, ties by
    modification time, oldest first (`auth.log.2.gz`, `auth.log.1`, `auth.log`)."""
    report = AnalysisReport()
    forced = get_parser(options.format) if options.format else None
    all_sinks: list[BatchSink] = [report.tally, *sinks]
    merge = TimeMerge(all_sinks)
    waiting: list[_Input] = []
    for origin in oldest_first(inputs):
        file_report = FileReport(path=origin)
        report.files.append(file_report)
        try:
            waiting.append(_survey(origin, forced, options, file_report, timed=len(inputs) > 1))
        except Exception as e:  # one input's fault must not stop the others
            _failed(file_report, e, on_error)
    # Stable: inputs with no known first time first, ties in modification-time order.
    waiting.sort(key=lambda i: (i.first is not None, i.first or _EPOCH))
    reading: list[_Input] = []
    try:
        while waiting or reading:
            current = min(reading, key=_Input.position) if reading else None
            if waiting and (current is None or waiting[0].position() <= current.position()):
                item = waiting.pop(0)
                # Two inputs open at a time get parsing threads (a rotated file and the
                # next one meet at their edges); more opened beside them (many logs of
                # the same hours) parse on this thread, so memory grows by one chunk
                # per further input, not by a pipeline of chunks.
                workers = options.parse_workers if len(reading) < _THREADED_INPUTS else 0
                if _guarded(item, on_error, partial(item.open, workers, len(reading))):
                    reading.append(item)
            elif current is not None:
                if not _guarded(current, on_error, partial(current.step, rejects, merge)):
                    current.close()
                    reading.remove(current)
                elif progress is not None and current.reader is not None:
                    progress(current.origin, current.reader.bytes_read)
            merge.release(_reached(reading, waiting))
    finally:
        for item in reading:
            item.close()
    merge.release(None)
    for sink in all_sinks:
        sink.close()
    return report


# Inputs read at the same time with their own parsing threads.
_THREADED_INPUTS = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _block_bytes(origin: str, block: int, beside: int) -> int:
    """The reading block of an input: smaller when other inputs are open (each holds a
    block and its events), and no larger than a small file (a directory of a few hundred
    small logs of one day is open all at once)."""
    if beside:
        block = max(_SHARED_BLOCK, block // (beside + 1))
    with contextlib.suppress(OSError):
        if os.path.isfile(origin):
            block = min(block, max(os.path.getsize(origin) + 1, _SMALL_BLOCK))
    return block


_SHARED_BLOCK = 1 << 20
_SMALL_BLOCK = 64 << 10


def _reached(reading: list[_Input], waiting: list[_Input]) -> datetime | None:
    """The time up to which every event has been read: the oldest position of an open
    input or the next input's first event (None: every input has been read)."""
    positions = [i.position() for i in reading] + [i.position() for i in waiting[:1]]
    return min(positions) if positions else None


@dataclass
class _Input:
    """One input of a run: surveyed (format, first event time), then read chunk by chunk."""

    origin: str
    report: FileReport
    parser: LineParser | None
    reader: LineReader | None  # open from the survey on when it cannot be reopened
    block_bytes: int
    # Earliest event time among its first lines (None: unknown, read first).
    first: datetime | None = None
    # Newest event time read so far.
    front: datetime | None = None
    chunks: Generator[ParsedChunk, None, None] | None = None

    def position(self) -> datetime:
        """How far this input has got in event time (its first event before it is read)."""
        mark = self.front if self.front is not None else self.first
        return mark if mark is not None else _EPOCH

    def open(self, workers: int, beside: int) -> None:
        """Start reading, with `workers` parsing threads, `beside` other inputs open."""
        if self.reader is None:
            self.reader = LineReader(self.origin, block_bytes=self.block_bytes)
            self.reader.open()
        self.reader.block_bytes = _block_bytes(self.origin, self.block_bytes, beside)
        parser = self.parser
        # Parsing runs on worker threads beside the reading and the sinks (which take
        # the chunks in order on this thread): chunks are prepared several at once, and
        # finished in order on one more thread (the syslog year carries over from chunk
        # to chunk; see LineParser.prepare). Two preparing threads for every format: on
        # 1M sshd lines in process, 1.46 -> 1.19 s wall for the same CPU (one preparing
        # thread was the critical path); the syslog family's smaller blocks pay for
        # the second chunk mid-parse (see SyslogFamilyParser.max_block_bytes).
        self.chunks = in_order(
            self.reader.chunks(),
            lambda c: prepare_chunk(c, parser),
            lambda p: finish_chunk(p, parser),
            workers,
        )

    def step(self, rejects: RejectWriter | None, merge: TimeMerge) -> bool:
        """Read and count one more chunk, its events to `merge`; False at the end."""
        assert self.chunks is not None, "_Input.step() before open()"
        parsed = next(self.chunks, None)
        if parsed is None:
            return False
        events = _record_chunk(self.origin, parsed, self.report, rejects)
        newest = merge.add(events) if events is not None else None
        if newest is not None and (self.front is None or newest > self.front):
            self.front = newest
        return True

    def close(self) -> None:
        if self.chunks is not None:
            self.chunks.close()  # stops its parsing threads
            self.chunks = None
        if self.reader is not None:
            self.reader.close()
            self.reader = None


def _survey(
    origin: str,
    forced: type[LineParser] | None,
    options: AnalyzeOptions,
    fr: FileReport,
    *,
    timed: bool,
) -> _Input:
    """An input's format and parser, and (`timed`) the time of its first events."""
    ctx = ParseContext(
        origin=origin,
        mtime=file_mtime(origin),
        year=options.year,
        tz=options.tz,
        now=options.clock.now(),
    )
    reader = LineReader(origin, block_bytes=options.block_bytes)
    reader.open()
    try:
        fr.compression = reader.compression
        head = reader.head_lines(SNIFF_LINES)
        sniffed: pl.DataFrame | None = None
        parser_cls: type[LineParser] | None = forced
        if forced is None:
            parser_cls, sniffed = _sniffed(head, ctx, options.of_format)
        fr.format = parser_cls.name if parser_cls else None
        parser = None
        block_bytes = options.block_bytes
        first = None
        if parser_cls is not None:
            parser_ctx = replace(ctx, options=options.of_format(parser_cls.name))
            parser = parser_cls(parser_ctx)
            if parser_cls.max_block_bytes is not None:
                block_bytes = min(block_bytes, parser_cls.max_block_bytes)
            if timed:
                # Sniffing read the lines with this parser and these options already; a
                # forced format reads them with a parser of its own (the file's parser
                # carries state from chunk to chunk).
                if sniffed is None:
                    sniffed = _head_events(parser_cls(parser_ctx), head)
                first = _earliest(sniffed)
    except BaseException:
        reader.close()
        raise
    if origin != STDIN and os.path.isfile(origin):
        # Reopened when its turn comes: a run over many files holds one open at a time.
        reader.close()
        return _Input(origin, fr, parser, None, block_bytes, first)
    # stdin and pipes (`<(zcat old.gz)`) cannot be read twice: they stay open.
    reader.block_bytes = block_bytes
    return _Input(origin, fr, parser, reader, block_bytes, first)


def _head_events(parser: LineParser, head: list[str]) -> pl.DataFrame | None:
    frame = _head_frame(head)
    try:
        return None if frame is None else parser.parse(frame).events
    except Exception:  # the input's own parse reports any fault, with its line
        return None


def _earliest(events: pl.DataFrame | None) -> datetime | None:
    """The earliest event time vigil takes among these events (None: none)."""
    if events is None or F.TIMESTAMP not in events.columns:
        return None
    ts = events.get_column(F.TIMESTAMP)
    first = ts.filter(ts.is_between(FIRST_TIME, END_TIME, closed="left")).min()
    return first if isinstance(first, datetime) else None


def _guarded(item: _Input, on_error: Callable[[str], None] | None, work: Callable[[], Any]) -> bool:
    """`work()`'s truth; a failure is recorded for the input (False)."""
    try:
        return work() is not False
    except Exception as e:  # one input's fault must not stop the others
        _failed(item.report, e, on_error)
        item.close()
        return False


def _failed(fr: FileReport, e: Exception, on_error: Callable[[str], None] | None) -> None:
    if isinstance(e, SourceError):
        message = str(e)
    else:
        message = (
            f"{fr.path}: internal error in the {fr.format or 'format detection'} "
            f"stage after line {fr.lines}: {type(e).__name__}: {e}"
        )
    fr.error = message
    if on_error is not None:
        on_error(message)


def oldest_first(inputs: Sequence[str]) -> list[str]:
    """Inputs by modification time, oldest first; stdin and unknowns keep their place
    after the files."""

    def key(item: tuple[int, str]) -> tuple[float, int]:
        mtime = file_mtime(item[1])
        return (mtime.timestamp() if mtime else float("inf"), item[0])

    return [origin for _, origin in sorted(enumerate(inputs), key=key)]


def _head_frame(head: list[str]) -> pl.DataFrame | None:
    """An input's first non-blank lines as a frame to parse (None: there are none)."""
    lines = [ln for ln in head if ln.strip()]
    if not lines:
        return None
    numbers = pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True)
    return pl.DataFrame({LINE: lines, F.LOG_FILE_LINE: numbers})


def sniff(head: list[str], ctx: ParseContext) -> type[LineParser] | None:
    """The parser that takes the largest share of the first non-blank lines."""
    return _sniffed(head, ctx)[0]


def _sniffed(
    head: list[str], ctx: ParseContext, options_of: Callable[[str], Mapping[str, str]] | None = None
) -> tuple[type[LineParser] | None, pl.DataFrame | None]:
    """`sniff`'s parser and the events it read from the lines; `options_of(format)`: the
    options each candidate reads them with, as it would read the input."""
    frame = _head_frame(head)
    if frame is None:
        return None, None
    best: tuple[float, int, str, pl.DataFrame] | None = None
    for name, cls in PARSERS.items():
        if best is not None and best[0] >= 1.0 and cls.priority <= best[1]:
            # A score is a share of lines, at most 1: this parser cannot win (and the
            # syslog-family parsers cost tens of milliseconds each).
            continue
        given = ctx if options_of is None else replace(ctx, options=options_of(name))
        score, events = cls.sniffed(frame, given)
        if score > 0 and (best is None or (score, cls.priority) > best[:2]):
            best = (score, cls.priority, name, events)
    return (PARSERS[best[2]], best[3]) if best else (None, None)


def _record_chunk(
    origin: str,
    parsed: ParsedChunk,
    fr: FileReport,
    rejects: RejectWriter | None,
) -> pl.DataFrame | None:
    """Count a parsed chunk (chunks of an input arrive in order); its events, if any."""
    fr.lines += parsed.lines
    fr.replaced_bytes += parsed.replaced
    fr.skipped += parsed.skipped
    all_rejects = parsed.rejects
    if all_rejects.height:
        fr.rejected += all_rejects.height
        counts = all_rejects.group_by(REASON).len()
        fr.reject_reasons.update(
            dict(zip(counts[REASON].to_list(), counts["len"].to_list(), strict=True))
        )
        if rejects is not None:
            rejects.write(origin, all_rejects, parsed.full)
    batch = parsed.events
    if batch is None or batch.height == 0:
        return None
    fr.parsed += batch.height
    # In Int64: a UInt32 sum wraps past 2^32 (`message repeated` counts add up).
    fr.events += int(batch.get_column(F.EVENT_COUNT).cast(pl.Int64).sum())
    fr.add_span(batch)
    return batch
