"""What the syslog, sshd and netfilter parsers share: header, then message kinds.

Every line with a syslog header is an event with the header's fields; its message body
is `message`. Messages of sshd, PAM, sudo, su, cron, systemd-logind, the account tools,
kernel packet logs and pf's `filterlog` get their own fields (see `sshd_messages`,
`auth_messages`, `netfilter_messages`, `pf_messages`), whichever of the three parsers
reads the file, so a mixed /var/log/syslog loses nothing. rsyslog's `message repeated N
times: [ msg ]` is one event for `msg` with `event.count` = N. Plain messages have no
`event.action` or outcome. `event.dataset` is the parser's name: the file's kind (`sshd`
for an auth.log, its sudo lines included), while `process.name` tells the programs apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from vigil.parsers.auth_messages import AUTH_KINDS
from vigil.parsers.base import LINE, LineParser, ParseContext, ParseResult, empty_rejects
from vigil.parsers.message_kinds import MSG, ROW, KindTable
from vigil.parsers.netfilter_messages import NETFILTER_KIND
from vigil.parsers.pf_messages import PF_KIND
from vigil.parsers.sshd_messages import SSHD_KINDS
from vigil.parsers.sshd_protocol_messages import SSHD_PROTOCOL_KINDS
from vigil.parsers.syslog_header import (
    HEADER_PATTERNS,
    HEADER_START,
    add_timestamps,
    reject_rest,
    split_headers,
)
from vigil.parsers.syslog_time import YearTracker
from vigil.schema.fields import F

KINDS = KindTable((*SSHD_KINDS, *SSHD_PROTOCOL_KINDS, *AUTH_KINDS, NETFILTER_KIND, PF_KIND))
REPEATED = r"^message repeated (?P<n>\d+) times?: \[ ?(?P<inner>.*?) ?\]$"
# Solaris puts a message id in front of the text: `[ID 800047 auth.notice] `.
_SOLARIS_ID = r"^\[ID \d+ [\w.]+\] "
# Row number of a line among the header rows (ROW numbers the distinct messages).
_LINE_ROW = "_line_row"


@dataclass
class _Prepared:
    events: pl.DataFrame  # header rows with their fields, timestamps still as text
    extra: pl.DataFrame | None  # events from lines without a syslog header
    rejects: pl.DataFrame


class SyslogFamilyParser(LineParser):
    """Base of the syslog-header parsers; subclasses set `name`, `summary`, `patterns`."""

    patterns: ClassVar[dict[str, str]] = {**HEADER_PATTERNS, **KINDS.patterns()}
    # Parsing a block of auth.log takes ~5x its size for a moment (the header groups, the
    # message kinds), and two blocks are parsed at once beside the one the detection
    # stage takes: 4 MB blocks keep a 5M-line auth.log at 329 MB of peak RSS parse-only
    # and 356 MB with the pack (6 MB blocks, one at a time: 352 and 378 MB), for ~5%
    # more CPU than 6 MB blocks. Other formats need far less and keep the reader's 8 MB.
    max_block_bytes: ClassVar[int | None] = 4 << 20
    sniff_requires = HEADER_START

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        # One parser instance reads one file, chunk after chunk, in order.
        self.years = YearTracker(ctx)

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        return self.finish(self.prepare(frame))

    def prepare(self, frame: pl.DataFrame) -> _Prepared:
        """Everything but the timestamps: the year of a BSD timestamp depends on the lines
        before it, so `finish` resolves it, chunk after chunk."""
        headers, rest = split_headers(frame)
        extra, rejects = self.without_header(rest)
        return _Prepared(self.messages(headers), extra, pl.concat([empty_rejects(), rejects]))

    def finish(self, prepared: _Prepared) -> ParseResult:
        events = add_timestamps(prepared.events, self.years)
        extra = prepared.extra
        if extra is not None and extra.height:
            events = pl.concat([events, extra], how="diagonal_relaxed").sort(F.LOG_FILE_LINE)
        return ParseResult(events, prepared.rejects)

    def without_header(self, rest: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame]:
        """(events from lines without a syslog header, rejects): by default all rejects."""
        return None, reject_rest(rest)

    def messages(self, headers: pl.DataFrame) -> pl.DataFrame:
        """Events from header rows (which have `_msg`), in line order, with the fields of
        their message kinds."""
        if headers.select(pl.col(MSG).str.starts_with("[ID ").any()).item():
            headers = headers.with_columns(pl.col(MSG).str.replace(_SOLARIS_ID, ""))
        headers = _expand_repeats(headers)
        # A message's kind fields depend on its program and text only, and most texts
        # recur (cron and PAM sessions, sudo, disconnects): each distinct pair is read
        # once (~35% of the rows of an auth.log), then every row takes its pair's fields.
        pairs = (
            headers.select(F.PROCESS_NAME, MSG)
            .with_row_index(_LINE_ROW)
            # In order of first appearance, so the kinds' columns come in the same order.
            .group_by(F.PROCESS_NAME, MSG, maintain_order=True)
            .agg(pl.col(_LINE_ROW))
            .with_row_index(ROW)
        )
        fields = KINDS.fields(pairs)
        if fields.height:
            # Back into line order: row i takes the fields of its pair, or nulls.
            rows_of_pair = pairs.select(ROW, _LINE_ROW).explode(_LINE_ROW)
            pair_of_row = pl.repeat(None, headers.height, dtype=pl.UInt32, eager=True).scatter(
                rows_of_pair.get_column(_LINE_ROW), rows_of_pair.get_column(ROW)
            )
            found_at = pl.repeat(None, pairs.height, dtype=pl.UInt32, eager=True).scatter(
                fields.get_column(ROW), pl.int_range(0, fields.height, dtype=pl.UInt32, eager=True)
            )
            where = found_at.gather(pair_of_row)
            headers = headers.hstack(fields.drop(ROW).select(pl.all().gather(where)))
        return headers.rename({MSG: F.MESSAGE}).with_columns(
            pl.lit(self.name).alias(F.EVENT_DATASET)
        )

    @classmethod
    def sniff_frame(cls, frame: pl.DataFrame, ctx: ParseContext) -> pl.DataFrame:
        """The events of these lines, for `sniff` overrides to judge."""
        if not cls.could_take(frame):
            return pl.DataFrame()
        return cls(ctx).parse(frame.filter(pl.col(LINE).str.strip_chars() != "")).events


def _expand_repeats(headers: pl.DataFrame) -> pl.DataFrame:
    """`message repeated N times: [ msg ]` → `msg` with `event.count` = N."""
    repeated = headers.get_column(MSG).str.starts_with("message repeated ")
    if not repeated.any():
        return headers
    where = repeated.arg_true()
    groups = headers.get_column(MSG).gather(where).str.extract_groups(REPEATED).struct.unnest()
    # A count past UInt32 (a hostile line) is held at its largest value rather than lost
    # with the failures it stands for.
    count = groups.get_column("n").cast(pl.Float64, strict=False).clip(upper_bound=2**32 - 1)
    count = count.cast(pl.UInt32)
    ok = groups.get_column("inner").is_not_null() & (count > 0)
    where, count = where.filter(ok), count.filter(ok)
    counts = pl.repeat(None, headers.height, dtype=pl.UInt32, eager=True).scatter(where, count)
    return headers.with_columns(
        headers.get_column(MSG).scatter(where, groups.get_column("inner").filter(ok)),
        counts.alias(F.EVENT_COUNT),
    )
