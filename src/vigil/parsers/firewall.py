"""The pipe-separated firewall format of the seed case:

    2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22

time | source IP | destination IP | protocol | action | source port | destination port.
Spacing around the pipes is free; a header line (`time | src_ip | ...`) and `#`
comments are skipped. Times without a zone are local to `--tz`; `Z` or `+hh:mm`
suffixes are honoured.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from vigil.parsers.base import (
    DENIED_ACTIONS,
    IP,
    IPV4,
    LINE,
    REASON,
    LineParser,
    ParseResult,
    localize,
    outcome_of_action,
)
from vigil.schema.fields import TIMESTAMP_DTYPE, F

_S = r"\s*\|\s*"
_RECORD = (
    r"^\s*(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?)(?P<tz>Z|[+-]\d\d:?\d\d)?"
    + _S
    + rf"(?P<src>{IP})"
    + _S
    + rf"(?P<dst>{IP})"
    + _S
    + r"(?P<proto>[A-Za-z][A-Za-z0-9_-]*|\d{1,3})"
    + _S
    + r"(?P<action>[A-Za-z][A-Za-z_-]*)"
    + _S
    + r"(?P<sport>\d{1,5}|-)?"
    + _S
    + r"(?P<dport>\d{1,5}|-)?\s*$"
)
_HEADER = r"(?i)^\s*#|^\s*(?:time|timestamp|date)\s*\|"

# The shape nearly every line has, a subset of `_RECORD`: one space around each pipe,
# none around the line, a time without fraction or zone, ASCII classes (`\d`, `\s`
# and `\w` are Unicode classes in `_RECORD`, twice as slow). Its fields are what
# splitting at ` | ` gives, with nothing to strip.
_D = "[0-9]"
_IPV4_ASCII = IPV4.replace(r"\d", _D)
_IP_ASCII = (
    rf"(?:{_IPV4_ASCII}|(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}(?:[0-9A-Fa-f]{{0,4}}|{_IPV4_ASCII})"
    r"(?:%[A-Za-z0-9_.]+)?)"
)
_PLAIN = (
    rf"^{_D}{{4}}-{_D}{{2}}-{_D}{{2}} {_D}{{2}}:{_D}{{2}}:{_D}{{2}}"
    rf" \| {_IP_ASCII} \| {_IP_ASCII} \| (?:[A-Za-z][A-Za-z0-9_-]*|{_D}{{1,3}})"
    rf" \| [A-Za-z][A-Za-z_-]* \| (?:{_D}{{1,5}}|-)? \| (?:{_D}{{1,5}}|-)$"
)
_FIELDS = ["stamp", "src", "dst", "proto", "action", "sport", "dport"]
# The time field as `_RECORD` reads it: the time, then an optional zone.
_STAMP = r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?)(?P<tz>Z|[+-]\d\d:?\d\d)?$"
# A time field of this many bytes that matched has no fraction, zone or non-ASCII digit.
_PLAIN_STAMP_BYTES = 19


class FirewallParser(LineParser):
    name = "firewall"
    summary = "pipe-separated firewall log: time | src | dst | proto | action | sport | dport"
    patterns: ClassVar[dict[str, str]] = {"record": _RECORD, "header": _HEADER}
    priority = 10
    independent_chunks = True
    sniff_requires = r"\|"

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        # No capture groups: matching without them is ~8x cheaper, and on a matching
        # line the groups are exactly its `|`-separated fields, stripped (no field can
        # hold a `|` or a space, but the time's own one).
        plain = frame.select(pl.col(LINE).str.contains(_PLAIN)).to_series()
        rest = frame.filter(~plain)
        is_record = rest.select(pl.col(LINE).str.contains(_RECORD)).to_series()
        # A header never matches the record, so only the other lines are tested for it.
        others = rest.filter(~is_record)
        is_header = others.select(pl.col(LINE).str.contains(_HEADER)).to_series()
        rejects = others.filter(~is_header).select(
            pl.col(F.LOG_FILE_LINE), pl.lit("not a firewall record").alias(REASON)
        )
        records = _plain_records(frame.filter(plain))
        if not is_record.not_().all():
            spaced = _spaced_records(rest.filter(is_record))
            records = pl.concat([records, spaced]).sort(F.LOG_FILE_LINE)
        return ParseResult(_events(records, self.ctx.tz), rejects, skipped=int(is_header.sum()))


def _plain_records(lines: pl.DataFrame) -> pl.DataFrame:
    """Fields of `_PLAIN` lines: split at ` | `; the time has no zone."""
    fields = pl.col(LINE).str.split_exact(" | ", 6).struct.rename_fields(_FIELDS).struct.unnest()
    return lines.with_columns(fields).select(
        *(pl.col(name) for name in _FIELDS[1:]),
        pl.col("stamp").alias("ts"),
        pl.lit(None, dtype=pl.String).alias("tz"),
        pl.col(LINE).alias(F.MESSAGE),
        pl.col(F.LOG_FILE_LINE),
    )


def _spaced_records(lines: pl.DataFrame) -> pl.DataFrame:
    """Fields of the other `_RECORD` lines: split at `|` and stripped; the time field
    cut into time and zone (by the regex only when it has a fraction or a zone)."""
    fields = (
        pl.col(LINE)
        .str.split_exact("|", 6)
        .struct.rename_fields(_FIELDS)
        .struct.unnest()
        .str.strip_chars()
    )
    records = lines.with_columns(fields)
    short = pl.col("stamp").str.len_bytes() == _PLAIN_STAMP_BYTES
    parts = pl.col("stamp").str.extract_groups(_STAMP)
    ts = pl.when(short).then(pl.col("stamp")).otherwise(parts.struct.field("ts"))
    return records.select(
        *(pl.col(name) for name in _FIELDS[1:]),
        ts.str.replace(",", ".", literal=True).str.replace("T", " ", literal=True).alias("ts"),
        pl.when(short).then(None).otherwise(parts.struct.field("tz")).alias("tz"),
        pl.col(LINE).str.strip_chars().alias(F.MESSAGE),
        pl.col(F.LOG_FILE_LINE),
    )


def _events(records: pl.DataFrame, tz: str) -> pl.DataFrame:
    naive = pl.col("ts").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
    timestamp = localize(naive, tz)
    if records.get_column("tz").null_count() < records.height:
        with_zone = (
            pl.col("ts") + pl.col("tz").str.replace(r"^([+-]\d\d)(\d\d)$", "$1:$2")
        ).str.replace("Z$", "+00:00")
        zoned = with_zone.str.strptime(TIMESTAMP_DTYPE, "%Y-%m-%d %H:%M:%S%.f%:z", strict=False)
        timestamp = (
            pl.when(pl.col("tz").is_null())
            .then(timestamp)
            .otherwise(zoned.dt.convert_time_zone("UTC"))
        )
    # A file holds a handful of distinct actions: derive their fields once per action.
    actions = records.select(pl.col("action").unique()).select(
        pl.col("action"),
        _ACTION.alias(F.EVENT_ACTION),
        outcome_of_action(_ACTION).alias(F.EVENT_OUTCOME),
        pl.when(_ACTION.is_in(DENIED_ACTIONS))
        .then(pl.lit("denied"))
        .otherwise(pl.lit("allowed"))
        .alias("event.type"),
    )
    return records.join(actions, on="action", how="left", maintain_order="left").select(
        timestamp.alias(F.TIMESTAMP),
        pl.lit("firewall").alias(F.EVENT_DATASET),
        pl.lit("network").alias(F.EVENT_CATEGORY),
        pl.col(F.EVENT_ACTION),
        pl.col(F.EVENT_OUTCOME),
        pl.col("event.type"),
        pl.col("src").alias(F.SOURCE_IP),
        pl.col("dst").alias(F.DESTINATION_IP),
        pl.col("proto").str.to_lowercase().alias(F.NETWORK_TRANSPORT),
        _port("sport").alias(F.SOURCE_PORT),
        _port("dport").alias(F.DESTINATION_PORT),
        pl.col(F.MESSAGE),
        pl.col(F.LOG_FILE_LINE),
    )


_ACTION = pl.col("action").str.to_lowercase()


def _port(name: str) -> pl.Expr:
    """A port field (digits, `-` or empty) as Int32; null unless 0-65535."""
    value = pl.col(name).cast(pl.Int32, strict=False)
    return pl.when(value <= 65535).then(value)
