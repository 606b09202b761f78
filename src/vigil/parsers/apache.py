"""Web server access logs: Apache and nginx, in the formats they ship with.

    common          203.0.113.7 - alice [22/Nov/2026:10:00:01 +0100] "GET / HTTP/1.1" 200 512
    combined        ... 200 512 "https://ref.example/" "Mozilla/5.0 ..."
    vhost_combined  www.example.com:443 203.0.113.7 - - [...] "GET / HTTP/1.1" 200 512 "-" "-"
    nginx combined  the same shape as Apache combined; nginx `main` adds a quoted
                    X-Forwarded-For after the user agent (accepted, not mapped)
    via syslog      any of these behind a syslog header, as nginx (`access_log
                    syslog:server=...`) and Apache (`CustomLog "|logger ..."`) write it:
                    `Sep 15 16:13:46 web1 nginx[2869]: 203.0.113.7 - - [...] "GET / ..."`

Fields after the user agent (response times, X-Forwarded-For) are accepted and left
in `message`. The client must be an IP address (the default; with Apache's
`HostnameLookups On` the line is rejected with its own reason).

Attack traffic is what these logs are for, so odd requests are events, not rejects:
a TLS handshake sent to the plain-text port (`"\\x16\\x03\\x01..."`), an empty request
(`"-"` or `""`), binary junk or a single word is an event with its client, time and
status, no method or URL, and `event.reason` saying the request line was malformed
or empty. A request target may hold spaces; quoted fields may hold `\\"`.

Choices:
* Quoted fields (URL, referrer, user agent) are kept as the server escaped them
  (`\\"`, `\\xhh` from Apache; `\\x22` from nginx): undoing it is ambiguous between
  the two servers and can yield bytes that are not UTF-8.
* `url.path` is percent-decoded once (see `percent`); `url.query` is raw.
* `-` for the size is 0: Apache's `%b` writes `-` exactly when no body byte was sent.
* `-` for the user, referrer or user agent is null (the servers' notation for absent).
* `event.dataset` is `nginx` when the file's path or the syslog program tag names
  nginx, else `apache`: the lines themselves do not tell the two servers apart.
* Behind a syslog header (RFC 3164 or RFC 3339 time, optional `<PRI>`), the access-log
  time is `@timestamp` (it has a zone and a year, the header's has neither or both but
  is the relay's); the header gives `host.name`, `process.name` and `process.pid`.
* Apache writes the day of the time with two digits; a one-digit day
  (`[1/Apr/2014:...]`, seen in hand-written logs) is read as well.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import ClassVar

import polars as pl

from vigil.parsers.base import (
    IP,
    LINE,
    REASON,
    LineParser,
    ParseResult,
    by_runs,
    empty_rejects,
)
from vigil.parsers.percent import percent_decode
from vigil.schema.fields import TIMESTAMP_DTYPE, F

NOT_ACCESS_LOG = "not an access-log line"
CLIENT_NOT_IP = "access-log client is not an IP address (HostnameLookups on?)"
MALFORMED_REQUEST = "malformed request line"
EMPTY_REQUEST = "empty request line"

_TS = r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
# The general patterns also take a one-digit day (padded to two before `_timestamp`).
_TS_ANY_DAY = "[0-9]{1,2}" + _TS.removeprefix("[0-9]{2}")
_TS_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
_TS_LOCAL_FORMAT = "%d/%b/%Y:%H:%M:%S"
# A time the distinct offsets of a chunk are checked on, and how many a chunk may have
# for that path (more would be a strange log: the plain `%z` reading is then used).
_CHECK_TIME = "15/Jun/2026:12:00:00"
_MAX_OFFSETS = 16
_QUOTED = r'(?:[^"\\]|\\.)*'
_ESCAPED_QUOTE = r'\\"'  # as a regex; the literal text is `\"`

# A line is cut at its double quotes into f0..f6: head `client ident user [time] `,
# request, ` status size `, referrer, one space, user agent, rest (ignored; null when
# the user agent has no closing quote).
# Lines without `\"` are cut by `str.splitn`, ~4x faster than one regex over the
# line; the few with `\"` need this escape-aware pattern.
_ESCAPED_LINE = (
    rf'^(?P<f0>{_QUOTED})"(?P<f1>{_QUOTED})"(?P<f2>{_QUOTED})'
    rf'(?:"(?P<f3>{_QUOTED})"(?P<f4>{_QUOTED})"(?P<f5>{_QUOTED})"(?P<f6>.*))?'
)

# Each field has a cheap pattern that fits nearly every line and a general one that
# runs only on the rows the cheap one missed (see `_redo`).
# Head: the cheap pattern is one-pass; its client is checked for being an IP on the
# short column afterwards, which costs less than `IP` inside the pattern.
_HEAD = rf"^(?P<client>[0-9A-Fa-f:.]+) (?P<ident>[^ ]+) (?P<user>[^ ]+) \[(?P<time>{_TS})\] $"
# ... and the rest: a virtual host in front (`%v` or `%v:%p`), or ident or user
# missing. The lazy vhost tries "no vhost" first, so `ip - - [` is never vhost + ip.
_HEAD_VHOST = (
    rf"^(?:(?P<vhost>[^ ]+) )??(?P<client>{IP}) (?:(?P<ident>[^ ]+) )?(?P<user>[^ ]+) "
    rf"\[(?P<time>{_TS_ANY_DAY})\] $"
)
_HEAD_GROUPS = ("vhost", "client", "ident", "user", "time")
# ... and last, a syslog header in front (RFC 3164 or RFC 3339 time, host, `prog[pid]: `).
_SYSLOG_HEAD = (
    r"^(?:<[0-9]{1,3}>)?(?:[A-Z][a-z]{2} [ 0-9]?[0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.,]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?) "
    r"(?:(?P<host>[^ ]*[^ :]) )?(?P<prog>[^ \[:]+)(?:\[(?P<pid>[0-9]+)\])?: "
)
_SYSLOG_GROUPS = ("host", "prog", "pid")
_HEAD_SYSLOG = _SYSLOG_HEAD + _HEAD_VHOST.removeprefix("^")
# `_HEAD` without its groups: matching is 3x cheaper than capturing, and on a matching
# head the groups are its first four space-separated parts.
_HEAD_SHAPE = re.sub(r"\(\?P<\w+>", "(?:", _HEAD)
_TS_CHARS = len("22/Nov/2026:10:00:01 +0100")
_HEAD_ANY_CLIENT = (
    rf"^(?:{_SYSLOG_HEAD.removeprefix('^')})?(?:[^ ]+ ){{1,3}}[^ ]+ \[{_TS_ANY_DAY}\] $"
)
_IP_ONLY = f"^{IP}$"
_STATUS = r"^ (?P<status>[0-9]{3}) (?P<size>[0-9]+|-)(?: |$)"
_METHOD = r"(?P<method>[A-Za-z][A-Za-z0-9_-]*)"
_VERSION = r"(?: HTTP/(?P<version>[0-9]+(?:\.[0-9]+)?))?$"
# Request: origin-form targets without spaces, split into path and query on the way.
_REQUEST = (
    rf"^{_METHOD} (?P<target>(?P<path>/[^ ?]*)(?:\?(?P<query>[^ ]*))?|(?:[^/ ][^ ]*)?)" + _VERSION
)
# ... and the rest: targets with spaces (the lazy target leaves a trailing
# ` HTTP/x.y` to the version), absolute-form (`http://host/path`, proxy probes),
# authority-form (`CONNECT host:443`) and `*`.
_REQUEST_SPACES = rf"^{_METHOD} (?P<target>.*?)" + _VERSION
_REQUEST_GROUPS = ("method", "target", "path", "query", "version")
_ABSOLUTE_FORM = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?]*"
_VHOST = r"^(?P<domain>\[[^\]]*\]|[^:]+)(?::(?P<port>[0-9]{1,5}))?$"

# The shapes of whole lines this parser is built for, each with a golden sample
# (`parse` itself works field by field with the patterns above).
_LINE_SHAPES = {
    "common": rf'^[0-9A-Fa-f:.]+ [^ ]+ [^ ]+ \[{_TS}\] "[^"]*" [0-9]{{3}} (?:[0-9]+|-)$',
    "combined": (
        rf'^[0-9A-Fa-f:.]+ [^ ]+ [^ ]+ \[{_TS}\] "[^"]*" [0-9]{{3}} (?:[0-9]+|-) "[^"]*" "[^"]*"$'
    ),
    "combined_with_extra_fields": r'\] "[^"]*" [0-9]{3} (?:[0-9]+|-) "[^"]*" "[^"]*" .',
    "vhost_combined": rf'^[^ ]+ [0-9A-Fa-f:.]+ [^ ]+ [^ ]+ \[{_TS}\] "',
    "ident_missing": rf'^[0-9A-Fa-f:.]+ [^ ]+ \[{_TS}\] "',
    "escaped_quote": _ESCAPED_QUOTE,
    "request_with_spaces": r'\] "[A-Za-z][A-Za-z0-9_-]* [^" ]+ [^"]+" [0-9]{3} ',
    "request_absolute_form": r'\] "[A-Za-z]+ [A-Za-z][A-Za-z0-9+.-]*://',
    "request_binary": r'\] "\\x[0-9A-Fa-f]{2}',
    "request_empty": r'\] "-?" [0-9]{3} ',
    "day_one_digit": r"^[0-9A-Fa-f:.]+ [^ ]+ [^ ]+ \[[0-9]/[A-Za-z]{3}/",
    "syslog_header": _SYSLOG_HEAD + r"[0-9A-Fa-f:.]+ [^ ]+ [^ ]+ \[",
}


class ApacheParser(LineParser):
    name = "apache"
    summary = "Apache/nginx access log: common, combined, vhost_combined, nginx combined"
    patterns: ClassVar[dict[str, str]] = _LINE_SHAPES
    priority = 20
    independent_chunks = True
    # Every head shape ends in `[time] ` before the request's quote.
    sniff_requires = r'\] "'

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        # The three field patterns in one call: polars runs them on both cores.
        staged = (
            _split_fields(frame)
            .with_columns(
                pl.col("f0").str.contains(_HEAD_SHAPE).alias("_head"),
                pl.col("f0").str.splitn(" ", 4).struct.rename_fields(_HEAD_GROUPS[1:]).alias("h"),
                pl.col("f1").str.extract_groups(_REQUEST).alias("r"),
                pl.col("f2").str.extract_groups(_STATUS).alias("s"),
                pl.lit(None, dtype=pl.String).alias("vhost"),
            )
            .unnest("h", "r", "s")
            .with_columns(
                *(pl.when(pl.col("_head")).then(pl.col(g)).alias(g) for g in _HEAD_GROUPS[1:4]),
                # `[time] `: the time has a fixed width.
                pl.when(pl.col("_head")).then(pl.col("time").str.slice(1, _TS_CHARS)).alias("time"),
            )
            .drop("_head")
        )
        client_ok = pl.col("client").str.contains(_IP_ONLY)
        staged = _redo(staged, ~client_ok, "f0", _HEAD_VHOST, _HEAD_GROUPS)
        syslog = staged.get_column("client").has_nulls()
        if syslog:
            staged = _redo(
                staged.with_columns(pl.lit(None, dtype=pl.String).alias(g) for g in _SYSLOG_GROUPS),
                pl.col("client").is_null(),
                "f0",
                _HEAD_SYSLOG,
                _HEAD_GROUPS + _SYSLOG_GROUPS,
            )
        ok = staged.select(
            pl.col("client").is_not_null() & pl.col("status").is_not_null()
        ).to_series()
        # Filtering copies every column: skipped in the usual case of no reject.
        good = staged if ok.all() else staged.filter(ok)
        rejects = staged.filter(~ok).select(
            F.LOG_FILE_LINE,
            pl.when(pl.col("client").is_null() & pl.col("f0").str.contains(_HEAD_ANY_CLIENT))
            .then(pl.lit(CLIENT_NOT_IP))
            .otherwise(pl.lit(NOT_ACCESS_LOG))
            .alias(REASON),
        )
        retry = pl.col("path").is_null() & pl.col("f1").str.contains(" ", literal=True)
        good = _redo(good, retry, "f1", _REQUEST_SPACES, _REQUEST_GROUPS)
        events = _events(good, _dataset(self.ctx.origin))
        if syslog and good.get_column("prog").is_not_null().any():
            prog = good.get_column("prog")
            events = events.with_columns(
                # The program tag says what the path may not: nginx or Apache.
                pl.when(prog.str.starts_with("nginx"))
                .then(pl.lit("nginx"))
                .otherwise(pl.col(F.EVENT_DATASET))
                .alias(F.EVENT_DATASET),
                good.get_column("host").alias(F.HOST_NAME),
                good.get_column("prog").alias(F.PROCESS_NAME),
                good.get_column("pid").cast(pl.Int64, strict=False).alias(F.PROCESS_PID),
            )
        return ParseResult(events, pl.concat([empty_rejects(), rejects]))


def _split_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds f0..f6 (head, request, status part, referrer, gap, user agent, rest)."""
    escaped = frame.select(pl.col(LINE).str.contains('\\"', literal=True)).to_series()
    any_escaped = escaped.any()
    # Filtering copies every line (200+ bytes each): only when some line needs it.
    plain = (
        (frame.filter(~escaped) if any_escaped else frame)
        .with_columns(pl.col(LINE).str.splitn('"', 7).alias("p"))
        .unnest("p")
        .rename({f"field_{i}": f"f{i}" for i in range(7)})
    )
    if not any_escaped:
        return plain
    tricky = frame.filter(escaped).with_columns(
        pl.col(LINE).str.extract_groups(_ESCAPED_LINE).alias("p")
    )
    return pl.concat([plain, tricky.unnest("p")]).sort(F.LOG_FILE_LINE)


def _redo(
    frame: pl.DataFrame, missed: pl.Expr, column: str, pattern: str, groups: tuple[str, ...]
) -> pl.DataFrame:
    """Extract `groups` again with the general `pattern`, on the rows `missed` selects
    only; groups the pattern lacks become null. Rows keep their line order."""
    mask = frame.select(missed.fill_null(True).alias("m")).to_series()
    if not mask.any():
        return frame
    redo = (
        frame.filter(mask)
        .drop(groups)
        .with_columns(pl.col(column).str.extract_groups(pattern).alias("g"))
        .unnest("g")
    )
    absent = [pl.lit(None, dtype=pl.String).alias(g) for g in groups if g not in redo.columns]
    redo = redo.with_columns(absent).select(frame.columns)
    return pl.concat([frame.filter(~mask), redo]).sort(F.LOG_FILE_LINE)


def _events(rows: pl.DataFrame, dataset: str) -> pl.DataFrame:
    if rows.select(pl.col("time").str.len_bytes().min()).item() == _TS_CHARS - 1:
        # A one-digit day (rare: Apache writes two): padded, so every time has the width
        # `_timestamp` slices by.
        short = pl.col("time").str.len_bytes() == _TS_CHARS - 1
        padded = pl.when(short).then(pl.concat_str(pl.lit("0"), pl.col("time")))
        rows = rows.with_columns(padded.otherwise(pl.col("time")).alias("time"))
    status = pl.col("status").cast(pl.Int32)
    target = pl.col("target")
    # Targets the cheap request pattern did not split (absolute-form, spaces).
    unsplit = pl.col("path").is_null() & (
        target.str.starts_with("/") | target.str.contains(_ABSOLUTE_FORM)
    )
    has_unsplit = rows.select(unsplit.any()).item()
    pq = target.str.replace(_ABSOLUTE_FORM, "").str.splitn("?", 2)
    path, query = pl.col("path"), pl.col("query")
    if has_unsplit:
        path = pl.when(unsplit).then(pq.struct.field("field_0")).otherwise(path)
        query = pl.when(unsplit).then(pq.struct.field("field_1")).otherwise(query)
    has_vhost = rows.select(pl.col("vhost").is_not_null().any()).item()
    vhost = (
        pl.col("vhost").str.extract_groups(_VHOST)
        if has_vhost
        else pl.lit(None, dtype=pl.Struct({"domain": pl.String, "port": pl.String}))
    )
    request = pl.col("f1")
    stamps = by_runs(
        rows.get_column("time"),
        lambda times: (frame := times.to_frame("time")).select(_timestamp(frame)).to_series(),
    )
    events = rows.select(
        pl.lit(stamps).alias(F.TIMESTAMP),
        pl.lit(dataset).alias(F.EVENT_DATASET),
        pl.lit("web").alias(F.EVENT_CATEGORY),
        pl.when(status < 400)
        .then(pl.lit("success"))
        .otherwise(pl.lit("failure"))
        .alias(F.EVENT_OUTCOME),
        pl.when(pl.col("method").is_not_null())
        .then(None)
        .when((request == "-") | (request == ""))
        .then(pl.lit(EMPTY_REQUEST))
        .otherwise(pl.lit(MALFORMED_REQUEST))
        .alias(F.EVENT_REASON),
        pl.col("client").alias(F.SOURCE_IP),
        _dash_null(pl.col("user")).alias(F.USER_NAME),
        pl.col("method").alias(F.HTTP_REQUEST_METHOD),
        target.alias(F.URL_ORIGINAL),
        path.alias(F.URL_PATH),
        query.alias(F.URL_QUERY),
        vhost.struct.field("domain").alias(F.URL_DOMAIN),
        vhost.struct.field("port").cast(pl.Int32, strict=False).alias(F.DESTINATION_PORT),
        pl.col("version").alias(F.HTTP_VERSION),
        status.alias(F.HTTP_RESPONSE_STATUS_CODE),
        pl.col("size")
        .replace("-", "0")
        .cast(pl.Int64, strict=False)
        .alias(F.HTTP_RESPONSE_BODY_BYTES),
        _gap_field("f3").alias(F.HTTP_REQUEST_REFERRER),
        _gap_field("f5").alias(F.USER_AGENT_ORIGINAL),
        pl.col(LINE).alias(F.MESSAGE),
        pl.col(F.LOG_FILE_LINE),
    )
    return events.with_columns(percent_decode(events.get_column(F.URL_PATH)))


def _timestamp(rows: pl.DataFrame) -> pl.Expr:
    """`@timestamp` from `time` (`22/Nov/2026:10:00:01 +0100`): strptime with `%z` costs
    ~4x strptime without, so the local time is read without its offset and each of the
    chunk's few distinct offsets is subtracted as a duration, once checked to give what
    `%z` gives (else, or for an odd offset, the plain `%z` reading)."""
    exact = pl.col("time").str.strptime(TIMESTAMP_DTYPE, _TS_FORMAT, strict=False)
    offset = pl.col("time").str.slice(_TS_CHARS - 5)
    offsets = rows.select(offset.unique().drop_nulls().alias("o"))
    if offsets.height == 0 or offsets.height > _MAX_OFFSETS:
        return exact
    sign = pl.when(pl.col("o").str.starts_with("-")).then(-1).otherwise(1)
    hours, mins = (pl.col("o").str.slice(i, 2).cast(pl.Int64, strict=False) for i in (1, 3))
    checked = offsets.select(
        pl.col("o"),
        (sign * (hours * 60 + mins)).alias("minutes"),
        (pl.lit(_CHECK_TIME + " ") + pl.col("o"))
        .str.strptime(TIMESTAMP_DTYPE, _TS_FORMAT, strict=False)
        .alias("by_z"),
    ).with_columns(
        (
            pl.lit(_CHECK_TIME).str.strptime(pl.Datetime("us"), _TS_LOCAL_FORMAT)
            - pl.duration(minutes=pl.col("minutes"))
        )
        .dt.replace_time_zone("UTC")
        .alias("by_duration")
    )
    if not checked.select(pl.col("by_z").eq_missing(pl.col("by_duration")).all()).item():
        return exact
    minutes = offset.replace_strict(
        checked.get_column("o"), checked.get_column("minutes"), default=None
    )
    local = pl.col("time").str.slice(0, _TS_CHARS - 6)
    naive = local.str.strptime(pl.Datetime("us"), _TS_LOCAL_FORMAT, strict=False)
    return (naive - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC")


def _gap_field(name: str) -> pl.Expr:
    """Referrer and user agent count only when the line has the combined shape:
    ` status size "referrer" "agent"` (f2 ends in a space, f4 is one space, and the
    agent's quote is closed: a line cut short keeps no half user agent)."""
    combined = pl.col("f2").str.ends_with(" ") & (pl.col("f4") == " ") & pl.col("f6").is_not_null()
    return pl.when(combined).then(_dash_null(pl.col(name)))


def _dash_null(col: pl.Expr) -> pl.Expr:
    return pl.when(col != "-").then(col)


def _dataset(origin: str) -> str:
    return "nginx" if any("nginx" in part.lower() for part in PurePath(origin).parts) else "apache"
