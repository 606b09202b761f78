"""The parser contract and the helpers every parser shares.

A parser turns a frame of lines (`line`, `log.file.line`) into a Batch of events and
a frame of rejects (`log.file.line`, `reason`). It works on whole columns: one regex
over the column, casts, strptime. It never loops over lines in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from vigil.errors import UsageError
from vigil.schema.fields import TIMESTAMP_DTYPE, F

LINE = "line"
REASON = "reason"
# The engine of the parsers' lazy queries. A chunk is one query of a few thousand to a
# hundred thousand rows, parsed beside other chunks on other threads: the streaming
# engine's set-up and morsel scheduling cost ~4% more instructions there (callgrind,
# 200k sshd lines) for a parallelism the chunk threads already give.
ENGINE: Literal["in-memory"] = "in-memory"

# Regex fragments shared by parsers (Rust regex syntax, as polars runs them).
IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV6 = r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|" + IPV4 + r")(?:%[\w.]+)?"
IP = f"(?:{IPV4}|{IPV6})"

ACCEPTED_ACTIONS = ("allow", "allowed", "accept", "accepted", "pass", "permit", "permitted")
DENIED_ACTIONS = ("deny", "denied", "drop", "dropped", "reject", "rejected", "block", "blocked")


@dataclass(frozen=True)
class ParseContext:
    """What a parser knows about the input beyond its lines."""

    origin: str
    mtime: datetime | None = None
    year: int | None = None
    tz: str = "UTC"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ParseResult:
    events: pl.DataFrame
    rejects: pl.DataFrame
    # Lines that are neither events nor rejects: headers and comments.
    skipped: int = 0


class LineParser:
    """Base of every line parser. Subclasses set the class variables and `parse`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    # Named patterns (Rust regex) this parser accepts; every one needs a positive
    # sample in tests/data/samples/<name>/ (a meta-test checks it).
    patterns: ClassVar[Mapping[str, str]]
    # When two parsers take the same share of a file's first lines, the higher wins.
    priority: ClassVar[int] = 0
    # True when `parse` keeps no state from one chunk of a file to the next, so chunks
    # may be parsed at the same time (see `prepare`).
    independent_chunks: ClassVar[bool] = False
    # The largest block of a file to parse at once, for parsers that briefly need many
    # times a block's size while parsing it; None: the reader's default.
    max_block_bytes: ClassVar[int | None] = None
    # The options (`-o KEY=VALUE`, `parsers.<name>.options`) this parser reads; a prefix
    # ending in `.` stands for every option that starts with it (csv's `map.COLUMN`).
    option_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        raise NotImplementedError  # pragma: no cover - every registered parser overrides it

    @classmethod
    def takes_option(cls, key: str) -> bool:
        return any(key == n or (n.endswith(".") and key.startswith(n)) for n in cls.option_names)

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        """UsageError for an option value this parser cannot use, before any input is read
        (a bad value found mid-file would cost the file). Options it does not take are
        not its business."""
        tz = options.get("tz")
        if tz is not None and cls.takes_option("tz"):
            check_zone(tz, "parser option tz")

    def prepare(self, frame: pl.DataFrame) -> Any:
        """The part of `parse` that does not depend on the chunks before this one: it may
        run on any thread, for chunks in any order; `finish` completes it, chunks in
        file order. By default: all of `parse` when the parser keeps no state from chunk
        to chunk (`independent_chunks`), else nothing."""
        return self.parse(frame) if self.independent_chunks else frame

    def finish(self, prepared: Any) -> ParseResult:
        """`parse`'s result from what `prepare` gave (called for chunks in file order)."""
        result: ParseResult = prepared if self.independent_chunks else self.parse(prepared)
        return result

    # A regex that a line must contain for this parser to make an event of it (a
    # necessary condition, checked against every sample line by a test), or None.
    # Sniffing parses a file's first lines with every parser, ~10-30 ms each for the
    # regex-heavy ones (their fixed cost per chunk); this check takes ~0.1 ms.
    sniff_requires: ClassVar[str | None] = None

    @classmethod
    def could_take(cls, frame: pl.DataFrame) -> bool:
        """False when no line of the frame can become an event (see `sniff_requires`)."""
        if cls.sniff_requires is None:
            return frame.height > 0
        return bool(frame.get_column(LINE).str.contains(cls.sniff_requires).any())

    @classmethod
    def sniff(cls, frame: pl.DataFrame, ctx: ParseContext) -> float:
        """The share of these (non-blank) lines this parser turns into events."""
        return cls.sniffed(frame, ctx)[0]

    @classmethod
    def sniffed(cls, frame: pl.DataFrame, ctx: ParseContext) -> tuple[float, pl.DataFrame]:
        """`sniff`'s score and the events read on the way (`analyze` takes an input's
        first event time from the winner's, rather than parsing the lines again).
        Parsers with their own judgement override this."""
        if not cls.could_take(frame):
            return 0.0, pl.DataFrame()
        result = cls(ctx).parse(frame)
        score = float(result.events.height) / float(max(frame.height - result.skipped, 1))
        return score, result.events


def check_zone(name: str, what: str) -> None:
    """UsageError unless `name` is a time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"{what}: unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def by_runs(values: pl.Series, read: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """`read(values)`, with `read` given each run of equal consecutive values once and
    its answer spread back over the run. Log lines come in bursts within a second (a
    third of the time stamps of an auth.log or an access log differ from the line
    before), so reading a time once per run saves two thirds of the work. `read` must
    give one value per value, from that value (and the values before it) alone."""
    new_run = values.ne_missing(values.shift(1))
    if new_run.is_empty() or new_run.sum() > _MOSTLY_RUNS * new_run.len():
        return read(values)
    new_run[0] = True  # the first value starts a run, even a null one
    return read(values.filter(new_run)).gather(new_run.cast(pl.UInt32).cum_sum() - 1)


# Above this share of run starts, `by_runs` reads every value (the bookkeeping would
# cost more than it saves).
_MOSTLY_RUNS = 0.75


def partition(frame: pl.DataFrame, ok: pl.Expr, reason: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows into (accepted, rejects with `reason`)."""
    mask = frame.select(ok.fill_null(False).alias("_ok")).to_series()
    good = frame.filter(mask)
    bad = frame.filter(~mask).select(pl.col(F.LOG_FILE_LINE), pl.lit(reason).alias(REASON))
    return good, bad


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={F.LOG_FILE_LINE: pl.UInt64, REASON: pl.String})


def localize(ts: pl.Expr, tz: str) -> pl.Expr:
    """Naive local datetimes in zone `tz` to UTC. A wall time that does not exist
    (DST gap) becomes null, so the line is rejected as having no valid timestamp; an
    ambiguous one (DST fold) takes the earlier instant."""
    return (
        ts.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.cast_time_unit("us")
        .cast(TIMESTAMP_DTYPE)
    )


def outcome_of_action(action: pl.Expr) -> pl.Expr:
    """event.outcome for a firewall verdict: allowed → success, denied → failure."""
    a = action.str.to_lowercase()
    return (
        pl.when(a.is_in(ACCEPTED_ACTIONS))
        .then(pl.lit("success"))
        .when(a.is_in(DENIED_ACTIONS))
        .then(pl.lit("failure"))
        .otherwise(pl.lit("unknown"))
    )
