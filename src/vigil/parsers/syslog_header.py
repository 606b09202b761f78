"""Syslog headers: RFC 3164 (BSD), ISO/RFC 3339 (rsyslog high precision, journalctl
`-o short-iso`) and RFC 5424, split from the message they carry.

    <13>Nov 22 10:00:01 host sshd[123]: msg      RFC 3164; <PRI>, host and [pid] optional
    2015 Nov 22 10:00:01 host sshd[123]: msg     RFC 3164 with a leading year
    2026-11-22T10:00:01.123456+01:00 host sshd[123]: msg
    <34>1 2026-11-22T10:00:01.003Z host sshd 123 ID47 [meta x="1"] msg      RFC 5424

A missing host is recognised by the token after the time ending in `:` (`Nov 22
10:00:01 sshd[1]: msg`). A tag without a colon (`syslogd 1.4.1: restart.`) is still the
program name, as RFC 3164 has it. The legacy `sshd(pam_unix)[pid]` tag gives process
`sshd`. The header regexes capture only the header (the message is sliced off after
it), because capturing the whole line costs twice as much.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.base import ENGINE, LINE, REASON
from vigil.parsers.message_kinds import MSG
from vigil.parsers.syslog_time import YearTracker, iso_timestamp
from vigil.schema.fields import TIMESTAMP_DTYPE, F

NO_HEADER = "no syslog header"

_D = "[0-9]"
_HOST_TAG = (
    r" (?:(?P<host>\S*[^\s:]) )?"
    r"(?:(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d*)\])?:? )?"
)
# One-pass forms of the common case (host, `prog[pid]: `), tried first on every line.
_FAST_HOST_TAG = r" (?P<host>[^ :]+) (?P<prog>[^ \[:]+)(?:\[(?P<pid>[0-9]*)\])?: "
_PRI = rf"(?:<(?P<pri>{_D}{{1,3}})>)?"
_BSD = rf"(?P<bsd>[A-Z][a-z]{{2}} [ 0-9]{_D} {_D}{{2}}:{_D}{{2}}:{_D}{{2}}(?:\.{_D}{{1,6}})?)"
_ISO = (
    rf"(?P<iso>{_D}{{4}}-{_D}{{2}}-{_D}{{2}}T{_D}{{2}}:{_D}{{2}}:{_D}{{2}}(?:[.,]{_D}{{1,9}})?)"
    rf"(?P<tz>Z|[+-]{_D}{{2}}:?{_D}{{2}})?"
)
RFC3164 = (
    r"^(?P<head>(?:<(?P<pri>\d{1,3})>)?(?:(?P<year>\d{4}) )?"
    r"(?P<bsd>[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d(?:\.\d{1,6})?)" + _HOST_TAG + ")"
)
RFC3339 = (
    r"^(?P<head>(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?)(?P<tz>Z|[+-]\d\d:?\d\d)?"
    + _HOST_TAG
    + ")"
)
RFC5424 = (
    r"^(?P<head><(?P<pri>\d{1,3})>(?P<ver>[1-9]\d?) "
    r"(?P<iso>-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?P<tz>Z|[+-]\d\d:\d\d)? "
    r"(?P<host>\S+) (?P<prog>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: |$))"
)
# The first SD element of RFC 5424 structured data: its SD-ID, its parameters.
_SD_ID = r"^\[([^ \]]+)"
_SD_FIRST = r'^\[[^ \]]+((?: [^ =\]"]+="(?:[^"\\]|\\.)*")*)\]'
_SD_PARAM = r'[^ =\]"]+="(?:[^"\\]|\\.)*"'
MAX_SD_FIELDS = 32
HEADER_PATTERNS: dict[str, str] = {
    "rfc3164": RFC3164,
    "rfc3339": RFC3339,
    "rfc5424": RFC5424,
}
# Tried in this order; each one only on the lines all earlier ones missed.
_ATTEMPTS = (
    f"^(?P<head>{_PRI}{_BSD}{_FAST_HOST_TAG})",
    f"^(?P<head>{_PRI}{_ISO}{_FAST_HOST_TAG})",
    RFC3164,
    RFC3339,
    RFC5424,
)
# The start every header form above has (a necessary condition, for sniffing).
HEADER_START = (
    r"^(?:<\d{1,3}>)?(?:(?:\d{4} )?[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)|^<\d{1,3}>[1-9]\d? "
)
_TIME_TEXTS = ("_bsd", "_year", "_iso", "_tz")
_BSD_TEXT, _YEAR_TEXT, _ISO_TEXT, _TZ_TEXT = _TIME_TEXTS
_GROUPS = ("head", "pri", "year", "bsd", "iso", "tz", "host", "prog", "pid", "ver", "msgid", "sd")


def split_headers(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with a header, in line order; the rest as `line` + `log.file.line`).

    Rows with a header have `host.name`, `process.name`, `process.pid`, the message
    body in `_msg`, the PRI and RFC 5424 fields when any row carries them, and the
    timestamp still as text (`add_timestamps` turns it into `@timestamp`).
    """
    groups = _extract(frame.get_column(LINE))
    found = groups.get_column("head").is_not_null()
    if not found.all():
        rest = frame.filter(~found).select(F.LOG_FILE_LINE, LINE)
        frame, groups = frame.filter(found), groups.filter(found)
    else:
        rest = frame.clear().select(F.LOG_FILE_LINE, LINE)
    return _columns(frame.hstack(groups)), rest


def add_timestamps(headers: pl.DataFrame, years: YearTracker) -> pl.DataFrame:
    """`@timestamp` from the timestamp texts of `split_headers` rows, in line order (the
    year of a BSD timestamp depends on the lines before it)."""
    stamps: list[pl.Expr] = []
    if _BSD_TEXT in headers.columns:
        given = headers.get_column(_YEAR_TEXT) if _YEAR_TEXT in headers.columns else None
        bsd = years.resolve(headers.get_column(_BSD_TEXT), given)
        stamps.append(pl.lit(bsd))
    if _ISO_TEXT in headers.columns:
        offset = pl.col(_TZ_TEXT) if _TZ_TEXT in headers.columns else pl.lit(None, pl.String)
        stamps.append(iso_timestamp(pl.col(_ISO_TEXT), offset, years.ctx.tz))
    timestamp = pl.coalesce(stamps) if stamps else pl.lit(None, dtype=TIMESTAMP_DTYPE)
    return (
        headers.lazy()
        .with_columns(timestamp.alias(F.TIMESTAMP))
        .drop(_TIME_TEXTS, strict=False)
        .collect(engine=ENGINE)
    )


def reject_rest(rest: pl.DataFrame, reason: str = NO_HEADER) -> pl.DataFrame:
    return rest.select(pl.col(F.LOG_FILE_LINE), pl.lit(reason).alias(REASON))


def _extract(lines: pl.Series) -> pl.DataFrame:
    """The header groups of each line, from the first attempt that matches it; a
    line no attempt matches has a null `head`. Only groups some attempt tried are
    columns (the common case is one attempt: no null columns to build)."""
    first = lines.str.extract_groups(_ATTEMPTS[0]).struct.unnest()
    missed = first.get_column("head").is_null()
    if not missed.any():
        return first
    out = {name: first.get_column(name) for name in first.columns}
    todo = missed.arg_true()
    for pattern in _ATTEMPTS[1:]:
        if todo.len() == 0:
            break
        groups = lines.gather(todo).str.extract_groups(pattern).struct.unnest()
        hit = groups.get_column("head").is_not_null()
        where = todo.filter(hit)
        for name in groups.columns:
            if name not in out:
                out[name] = pl.repeat(None, lines.len(), dtype=pl.String, eager=True)
            out[name] = out[name].scatter(where, groups.get_column(name).filter(hit))
        todo = todo.filter(~hit)
    return pl.DataFrame(out)


def _columns(g: pl.DataFrame) -> pl.DataFrame:
    has = {
        name: name in g.columns and g.get_column(name).null_count() < g.height for name in _GROUPS
    }
    prog, pid, host = pl.col("prog"), pl.col("pid"), pl.col("host")
    if has["ver"]:
        is_5424 = pl.col("ver").is_not_null()
        prog, pid, host = (
            pl.when(is_5424 & (c == "-")).then(None).otherwise(c) for c in (prog, pid, host)
        )
    if g.get_column("prog").str.contains("(", literal=True).any():
        # Legacy PAM tags: `sshd(pam_unix)[123]:` is process sshd.
        prog = prog.str.replace(r"\(.*$", "")
    msg = pl.col(LINE).str.slice(pl.col("head").str.len_chars())
    if has["ver"]:
        # RFC 5424 lets a UTF-8 message start with a byte-order mark.
        msg = msg.str.strip_prefix("\ufeff")
    columns = [
        pl.col(F.LOG_FILE_LINE),
        *(
            pl.col(group).alias(text)
            for group, text in zip(("bsd", "year", "iso", "tz"), _TIME_TEXTS, strict=True)
            if has[group]
        ),
        host.alias(F.HOST_NAME),
        prog.alias(F.PROCESS_NAME),
        pid.cast(pl.Int64, strict=False).alias(F.PROCESS_PID),
        msg.alias(MSG),
    ]
    if has["pri"]:
        pri = pl.col("pri").cast(pl.Int32, strict=False)
        pri = pl.when(pri <= 191).then(pri)
        columns += [
            pri.alias(F.LOG_SYSLOG_PRIORITY),
            (pri // 8).alias(F.LOG_SYSLOG_FACILITY),
            (pri % 8).alias(F.LOG_SYSLOG_SEVERITY),
        ]
    if has["ver"]:
        columns += [
            pl.col("ver").cast(pl.Int32).alias(F.LOG_SYSLOG_VERSION),
            pl.when(pl.col("msgid") != "-").then(pl.col("msgid")).alias(F.LOG_SYSLOG_MSGID),
            pl.when(pl.col("sd") != "-").then(pl.col("sd")).alias(F.LOG_SYSLOG_STRUCTURED_DATA),
        ]
    out = g.select(columns)
    if has["sd"]:
        out = out.hstack(structured_data_fields(out.get_column(F.LOG_SYSLOG_STRUCTURED_DATA)))
    return out


def structured_data_fields(sd: pl.Series) -> list[pl.Series]:
    """The parameters of each line's first SD element as columns named
    `log.syslog.structured_data.<SD-ID>.<name>` (RFC 5424 escapes `\\"`, `\\\\` and `\\]`
    undone). At most `MAX_SD_FIELDS` of them per chunk, so hostile input cannot make
    thousands of columns."""
    frame = pl.DataFrame({"sd": sd}).with_row_index("_i")
    pairs = (
        frame.select(
            pl.col("_i"),
            pl.col("sd").str.extract(_SD_ID, 1).alias("id"),
            pl.col("sd").str.extract(_SD_FIRST, 1).str.extract_all(_SD_PARAM).alias("p"),
        )
        .explode("p")
        .drop_nulls("p")
        .select(
            pl.col("_i"),
            pl.concat_str(
                pl.lit(F.LOG_SYSLOG_STRUCTURED_DATA + "."),
                pl.col("id"),
                pl.lit("."),
                pl.col("p").str.extract(r"^([^=]+)=", 1),
            ).alias("name"),
            pl.col("p")
            .str.extract(r'^[^=]+="(.*)"$', 1)
            .str.replace_all(r"\\([\]\"\\])", "$1")
            .alias("value"),
        )
        .unique(["_i", "name"], keep="first", maintain_order=True)
    )
    names = pairs.get_column("name").unique(maintain_order=True).head(MAX_SD_FIELDS).to_list()
    if not names:
        return []
    wide = pairs.filter(pl.col("name").is_in(names)).pivot(on="name", index="_i", values="value")
    # Back to one row per line, in line order (lines without SD get nulls).
    where = pl.repeat(None, sd.len(), dtype=pl.UInt32, eager=True).scatter(
        wide.get_column("_i"), pl.int_range(0, wide.height, dtype=pl.UInt32, eager=True)
    )
    return [wide.get_column(name).gather(where) for name in names]
