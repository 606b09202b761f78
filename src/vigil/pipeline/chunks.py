"""Parsing one input's chunks: each prepared on worker threads, finished in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from vigil.parsers.base import LINE, REASON, LineParser, ParseResult, empty_rejects
from vigil.schema.batch import conform
from vigil.schema.fields import F
from vigil.sources.files import Chunk

UNKNOWN_FORMAT = "format not recognised (no parser accepts the file's first lines; try --format)"
NO_TIMESTAMP = "missing or invalid timestamp"
# The event times vigil takes (as `--year` does): a date in year 0 or 9999 is a broken
# clock or a hostile line, and would overflow the windows' arithmetic.
FIRST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
END_TIME = datetime(2200, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "timestamp out of range (years 1970-2199)"
OVERLONG = "line too long"


@dataclass
class ParsedChunk:
    """What parsing one chunk gave, before it is counted and passed on."""

    # The rejected lines' text (`line`, `log.file.line`): all a reject report needs of
    # the chunk's text, so a parsed chunk waiting for the sinks does not hold the rest.
    full: pl.DataFrame
    rejects: pl.DataFrame
    events: pl.DataFrame | None
    skipped: int
    lines: int = 0  # lines in the chunk
    replaced: int = 0  # undecodable bytes replaced in the chunk


@dataclass
class PreparedChunk:
    """A chunk parsed as far as it can be without the chunks before it."""

    origin: str
    full: pl.DataFrame
    rejected: list[pl.DataFrame]
    skipped: int
    prepared: Any  # what the parser's prepare gave; None without a parser
    whole: bool = False  # `prepared` is the parser's whole ParseResult
    replaced: int = 0


def parse_chunk(chunk: Chunk, parser: LineParser | None) -> ParsedChunk:
    """Parse one chunk with the parser's `parse` (chunks of a file in order, on any one
    thread)."""
    return finish_chunk(prepare_chunk(chunk, parser, whole=True), parser)


def prepare_chunk(chunk: Chunk, parser: LineParser | None, *, whole: bool = False) -> PreparedChunk:
    """What parsing a chunk needs no earlier chunk for; touches nothing shared, so chunks
    can be prepared at the same time on worker threads (`whole`: all of the parsing,
    for chunks given in order)."""
    frame = full = chunk.frame()
    rejected: list[pl.DataFrame] = []
    if chunk.overlong:
        too_long = pl.col(F.LOG_FILE_LINE).is_in(list(chunk.overlong))
        rejected.append(
            frame.filter(too_long).select(F.LOG_FILE_LINE, pl.lit(OVERLONG).alias(REASON))
        )
        frame = frame.filter(~too_long)
    # Blank: no character but white space (cheaper to ask than `^\s*$`).
    blank = ~frame.get_column(LINE).str.contains(r"\S")
    skipped = int(blank.sum())
    if skipped:
        frame = frame.filter(~blank)
    prepared = None
    if parser is None:
        rejected.append(frame.select(F.LOG_FILE_LINE, pl.lit(UNKNOWN_FORMAT).alias(REASON)))
    else:
        prepared = parser.parse(frame) if whole else parser.prepare(frame)
    return PreparedChunk(chunk.origin, full, rejected, skipped, prepared, whole, chunk.replaced)


def finish_chunk(chunk: PreparedChunk, parser: LineParser | None) -> ParsedChunk:
    """The rest of parsing a prepared chunk; chunks of a file must come in order."""
    rejected, skipped, events = chunk.rejected, chunk.skipped, None
    if parser is not None:
        result = _timestamped(chunk.prepared if chunk.whole else parser.finish(chunk.prepared))
        skipped += result.skipped
        rejected.append(result.rejects)
        events = result.events
    if events is not None and events.height:
        events = conform(events.with_columns(pl.lit(chunk.origin).alias(F.LOG_FILE_PATH)))
    all_rejects = pl.concat([empty_rejects(), *rejected])
    text = chunk.full.clear()
    if all_rejects.height:
        text = chunk.full.join(all_rejects.select(F.LOG_FILE_LINE), on=F.LOG_FILE_LINE, how="semi")
    return ParsedChunk(
        text, all_rejects, events, skipped, lines=chunk.full.height, replaced=chunk.replaced
    )


def in_order(
    chunks: Iterator[Chunk],
    prepare: Callable[[Chunk], PreparedChunk],
    finish: Callable[[PreparedChunk], ParsedChunk],
    workers: int,
) -> Generator[ParsedChunk, None, None]:
    """`prepare` over the chunks on `workers` threads (polars releases the GIL), then
    `finish` on one more thread in input order; results in input order. While the
    consumer handles one chunk, the next `workers` are being worked on, so memory is
    bounded by `workers + 1` chunks (the raw chunk is let go once it is finished). No
    worker: all inline."""
    if workers == 0:
        for chunk in chunks:
            yield finish(prepare(chunk))
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vigil-parse")
    # One thread, so finishing goes in submission order.
    ordered = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-finish")
    pending: deque[Future[ParsedChunk]] = deque()
    failure: Exception | None = None
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except Exception as e:
                # A read failure (a truncated gzip): the chunks read before it still
                # count, as they do inline.
                failure = e
                break
            prepared = pool.submit(prepare, chunk)
            del chunk
            pending.append(ordered.submit(_finish_after, finish, prepared))
            del prepared
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        ordered.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        raise failure


def _finish_after(
    finish: Callable[[PreparedChunk], ParsedChunk], prepared: Future[PreparedChunk]
) -> ParsedChunk:
    return finish(prepared.result())


def parse_lines(parser: LineParser, frame: pl.DataFrame) -> ParseResult:
    """Run a parser over non-blank lines and enforce what every event must have: an
    event without a valid timestamp becomes a reject."""
    return _timestamped(parser.parse(frame))


def _timestamped(result: ParseResult) -> ParseResult:
    """An event without a valid timestamp, or with one outside the years vigil takes,
    becomes a reject."""
    rejects = [empty_rejects(), result.rejects.cast({F.LOG_FILE_LINE: pl.UInt64})]
    events = result.events
    ts = pl.col(F.TIMESTAMP)
    # Filtering copies every column: only when some event needs it.
    if events.get_column(F.TIMESTAMP).has_nulls():
        rejects.append(
            events.filter(ts.is_null()).select(F.LOG_FILE_LINE, pl.lit(NO_TIMESTAMP).alias(REASON))
        )
        events = events.filter(ts.is_not_null())
    within = ts.is_between(FIRST_TIME, END_TIME, closed="left")
    if events.height and not events.select(within.all()).item():
        rejects.append(
            events.filter(~within).select(F.LOG_FILE_LINE, pl.lit(OUT_OF_RANGE).alias(REASON))
        )
        events = events.filter(within)
    return ParseResult(events, pl.concat(rejects), result.skipped)
