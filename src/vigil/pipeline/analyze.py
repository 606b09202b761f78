"""`vigil analyze`: the pipeline over a finite set of inputs."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from vigil.clock import Clock, SystemClock
from vigil.errors import SourceError
from vigil.parsers.base import LINE, REASON, LineParser, ParseContext, ParseResult, empty_rejects
from vigil.parsers.registry import PARSERS, get_parser
from vigil.pipeline.report import AnalysisReport, FileReport
from vigil.pipeline.sinks import BatchSink, RejectWriter
from vigil.schema.batch import conform
from vigil.schema.fields import F
from vigil.sources.files import DEFAULT_BLOCK_BYTES, Chunk, LineReader, file_mtime

SNIFF_LINES = 64
UNKNOWN_FORMAT = "format not recognised (no parser accepts the file's first lines; try --format)"
NO_TIMESTAMP = "missing or invalid timestamp"
OVERLONG = "line too long"
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

    Inputs are read oldest first by modification time (stdin last), so rotated files come
    before the live one (`auth.log.2.gz`, `auth.log.1`, `auth.log`) and windows carry over
    the rotation in event-time order."""
    report = AnalysisReport()
    forced = get_parser(options.format) if options.format else None
    all_sinks: list[BatchSink] = [report.tally, *sinks]
    for origin in oldest_first(inputs):
        file_report = FileReport(path=origin)
        report.files.append(file_report)
        try:
            _analyze_file(
                origin,
                forced=forced,
                options=options,
                fr=file_report,
                sinks=all_sinks,
                rejects=rejects,
                progress=progress,
            )
        except SourceError as e:
            file_report.error = str(e)
            if on_error is not None:
                on_error(str(e))
        except Exception as e:  # one input's fault must not stop the others
            message = (
                f"{origin}: internal error in the {file_report.format or 'format detection'} "
                f"stage after line {file_report.lines}: {type(e).__name__}: {e}"
            )
            file_report.error = message
            if on_error is not None:
                on_error(message)
    for sink in all_sinks:
        sink.close()
    return report


def oldest_first(inputs: Sequence[str]) -> list[str]:
    """Inputs by modification time, oldest first; stdin and unknowns keep their place
    after the files."""

    def key(item: tuple[int, str]) -> tuple[float, int]:
        mtime = file_mtime(item[1])
        return (mtime.timestamp() if mtime else float("inf"), item[0])

    return [origin for _, origin in sorted(enumerate(inputs), key=key)]


def _analyze_file(
    origin: str,
    *,
    forced: type[LineParser] | None,
    options: AnalyzeOptions,
    fr: FileReport,
    sinks: Sequence[BatchSink],
    rejects: RejectWriter | None,
    progress: Progress | None,
) -> None:
    ctx = ParseContext(
        origin=origin,
        mtime=file_mtime(origin),
        year=options.year,
        tz=options.tz,
        now=options.clock.now(),
    )
    with LineReader(origin, block_bytes=options.block_bytes) as reader:
        fr.compression = reader.compression
        parser_cls = forced or sniff(reader.head_lines(SNIFF_LINES), ctx)
        fr.format = parser_cls.name if parser_cls else None
        parser = None
        if parser_cls is not None:
            merged = {**options.format_options.get(parser_cls.name, {}), **options.parser_options}
            parser = parser_cls(replace(ctx, options=merged))
            if parser_cls.max_block_bytes is not None:
                reader.block_bytes = min(reader.block_bytes, parser_cls.max_block_bytes)
        # Parsing runs on worker threads beside the reading and the sinks (which take
        # the chunks in order on this thread): chunks are prepared several at once, and
        # finished in order on one more thread (the syslog year carries over from chunk
        # to chunk; see LineParser.prepare). Two preparing threads for every format: on
        # 1M sshd lines in process, 1.46 -> 1.19 s wall for the same CPU (one preparing
        # thread was the critical path); the syslog family's smaller blocks pay for
        # the second chunk mid-parse (see SyslogFamilyParser.max_block_bytes).
        workers = options.parse_workers
        for parsed in _in_order(
            reader.chunks(),
            lambda c: prepare_chunk(c, parser),
            lambda p: finish_chunk(p, parser),
            workers,
        ):
            _record_chunk(origin, parsed, fr, sinks, rejects)
            # Let this chunk go before the next one is read and parsed (the loop
            # variable would otherwise hold it until then: one chunk more in memory).
            del parsed
            if progress is not None:
                progress(origin, reader.bytes_read)


def sniff(head: list[str], ctx: ParseContext) -> type[LineParser] | None:
    """The parser that takes the largest share of the first non-blank lines."""
    lines = [ln for ln in head if ln.strip()]
    if not lines:
        return None
    frame = pl.DataFrame(
        {LINE: lines, F.LOG_FILE_LINE: pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True)}
    )
    best: tuple[float, int, str] | None = None
    for name, cls in PARSERS.items():
        if best is not None and best[0] >= 1.0 and cls.priority <= best[1]:
            # A score is a share of lines, at most 1: this parser cannot win (and the
            # syslog-family parsers cost tens of milliseconds each).
            continue
        score = cls.sniff(frame, ctx)
        if score > 0 and (best is None or (score, cls.priority) > best[:2]):
            best = (score, cls.priority, name)
    return PARSERS[best[2]] if best else None


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


def _record_chunk(
    origin: str,
    parsed: ParsedChunk,
    fr: FileReport,
    sinks: Sequence[BatchSink],
    rejects: RejectWriter | None,
) -> None:
    """Count a parsed chunk and pass its events to the sinks (chunks arrive in order)."""
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
        return
    fr.parsed += batch.height
    fr.events += int(batch.get_column(F.EVENT_COUNT).sum())
    fr.add_span(batch)
    for sink in sinks:
        sink.consume(batch)


def _in_order(
    chunks: Iterator[Chunk],
    prepare: Callable[[Chunk], PreparedChunk],
    finish: Callable[[PreparedChunk], ParsedChunk],
    workers: int,
) -> Iterator[ParsedChunk]:
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
    """An event without a valid timestamp becomes a reject."""
    rejects = [empty_rejects(), result.rejects.cast({F.LOG_FILE_LINE: pl.UInt64})]
    events = result.events
    # Filtering copies every column: only when some event has no timestamp.
    if events.get_column(F.TIMESTAMP).has_nulls():
        no_ts = pl.col(F.TIMESTAMP).is_null()
        rejects.append(
            events.filter(no_ts).select(F.LOG_FILE_LINE, pl.lit(NO_TIMESTAMP).alias(REASON))
        )
        events = events.filter(~no_ts)
    return ParseResult(events, pl.concat(rejects), result.skipped)
