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
    LINE,
    LineParser,
    ParseResult,
    empty_to_null,
    localize,
    outcome_of_action,
    partition,
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


class FirewallParser(LineParser):
    name = "firewall"
    summary = "pipe-separated firewall log: time | src | dst | proto | action | sport | dport"
    patterns: ClassVar[dict[str, str]] = {"record": _RECORD, "header": _HEADER}
    priority = 10

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        is_header = pl.col(LINE).str.contains(_HEADER)
        headers = frame.select(is_header.sum()).item()
        frame = frame.filter(~is_header)
        parsed = frame.with_columns(pl.col(LINE).str.extract_groups(_RECORD).alias("g")).unnest("g")
        good, rejects = partition(parsed, pl.col("ts").is_not_null(), "not a firewall record")
        ts_text = pl.col("ts").str.replace(",", ".").str.replace("T", " ")
        naive = ts_text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
        with_zone = (
            ts_text + pl.col("tz").str.replace(r"^([+-]\d\d)(\d\d)$", "$1:$2")
        ).str.replace("Z$", "+00:00")
        zoned = with_zone.str.strptime(TIMESTAMP_DTYPE, "%Y-%m-%d %H:%M:%S%.f%:z", strict=False)
        action = pl.col("action").str.to_lowercase()
        events = good.select(
            pl.when(pl.col("tz").is_null())
            .then(localize(naive, self.ctx.tz))
            .otherwise(zoned.dt.convert_time_zone("UTC"))
            .alias(F.TIMESTAMP),
            pl.lit("firewall").alias(F.EVENT_DATASET),
            pl.lit("network").alias(F.EVENT_CATEGORY),
            action.alias(F.EVENT_ACTION),
            outcome_of_action(action).alias(F.EVENT_OUTCOME),
            pl.when(action.is_in(DENIED_ACTIONS))
            .then(pl.lit("denied"))
            .otherwise(pl.lit("allowed"))
            .alias("event.type"),
            pl.col("src").alias(F.SOURCE_IP),
            pl.col("dst").alias(F.DESTINATION_IP),
            pl.col("proto").str.to_lowercase().alias(F.NETWORK_TRANSPORT),
            _port("sport").alias(F.SOURCE_PORT),
            _port("dport").alias(F.DESTINATION_PORT),
            pl.col(LINE).str.strip_chars().alias(F.MESSAGE),
            pl.col(F.LOG_FILE_LINE),
        )
        return ParseResult(events, rejects, skipped=int(headers))


def _port(name: str) -> pl.Expr:
    value = empty_to_null(pl.col(name).str.replace("^-$", "")).cast(pl.Int32, strict=False)
    return pl.when(value <= 65535).then(value).otherwise(None)
