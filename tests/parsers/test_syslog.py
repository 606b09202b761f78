"""The syslog parser and the message-kind machinery it shares with sshd and netfilter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from vigil.parsers.base import LINE, ParseContext
from vigil.parsers.message_kinds import KindTable, MessageKind
from vigil.parsers.sshd import SshdParser
from vigil.parsers.syslog import SyslogParser
from vigil.parsers.syslog_family import KINDS
from vigil.parsers.syslog_header import MAX_SD_FIELDS
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _frame(lines: list[str]) -> pl.DataFrame:
    numbers = pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True)
    return pl.DataFrame({LINE: pl.Series(lines, dtype=pl.String), F.LOG_FILE_LINE: numbers})


def _parse(lines: list[str]) -> pl.DataFrame:
    return parse_lines(SyslogParser(ParseContext("test", year=2026, now=NOW)), _frame(lines)).events


def test_syslog_and_sshd_give_sshd_lines_the_same_fields() -> None:
    """A mixed /var/log/syslog loses nothing: sshd lines get the sshd parser's fields."""
    lines = [
        "Nov 22 10:00:01 gate sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        "Nov 22 10:00:02 gate sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
    ]
    ctx = ParseContext("test", year=2026, now=NOW)
    by_syslog = parse_lines(SyslogParser(ctx), _frame(lines)).events
    by_sshd = parse_lines(SshdParser(ctx), _frame(lines)).events
    assert by_syslog.drop(F.EVENT_DATASET).equals(by_sshd.drop(F.EVENT_DATASET))


def test_kinds_belong_to_their_programs() -> None:
    """`Invalid user` from dovecot, `Failed ...` from the kernel and `(x) CMD (y)` from a
    program other than cron are plain messages."""
    events = _parse(
        [
            "Nov 22 10:00:01 mail dovecot[1]: Invalid user admin from 192.0.2.1",
            "Nov 22 10:00:02 box kernel: Failed to start something",
            "Nov 22 10:00:03 box app[2]: (root) CMD (not cron)",
            "Nov 22 10:00:04 box crond[3]: (root) CMD (/usr/bin/true)",
        ]
    )
    assert events.get_column(F.EVENT_ACTION).to_list() == [None, None, None, "cron_command"]


def test_the_same_message_from_two_programs_is_read_for_each() -> None:
    """A message text written by several programs takes each line's program's kind,
    whichever program wrote it first (messages are read once per program and text)."""
    text = "(root) CMD (/usr/bin/true)"
    events = _parse(
        [
            f"Nov 22 10:00:01 box app[2]: {text}",
            f"Nov 22 10:00:02 box crond[3]: {text}",
            f"Nov 22 10:00:03 box app[2]: {text}",
            f"Nov 22 10:00:04 box: {text}",
            f"Nov 22 10:00:05 box CRON[4]: {text}",
        ]
    )
    assert events.get_column(F.EVENT_ACTION).to_list() == [
        None,
        "cron_command",
        None,
        None,
        "cron_command",
    ]
    assert events.get_column(F.USER_NAME).to_list() == [None, "root", None, None, "root"]


def test_rows_keep_line_order_and_header_fields() -> None:
    """Events come out in line order with host, program, pid and the message body."""
    lines = [f"Nov 22 10:00:{i:02d} host{i} prog{i}[{i}]: message {i}" for i in range(1, 30)]
    events = _parse(lines)
    assert events.get_column(F.LOG_FILE_LINE).to_list() == list(range(1, 30))
    assert events.row(4, named=True)[F.HOST_NAME] == "host5"
    assert events.row(4, named=True)[F.PROCESS_NAME] == "prog5"
    assert events.row(4, named=True)[F.PROCESS_PID] == 5
    assert events.row(4, named=True)[F.MESSAGE] == "message 5"


def test_rfc5424_structured_data_is_kept_whole() -> None:
    """Structured data stays one string; nil values (`-`) are nulls."""
    events = _parse(['<165>1 2026-11-22T10:00:01Z host app - ID47 [a@1 x="1"][b@2 y="\\]"] hi'])
    row = events.row(0, named=True)
    assert row[F.LOG_SYSLOG_STRUCTURED_DATA] == '[a@1 x="1"][b@2 y="\\]"]'
    assert (row[F.LOG_SYSLOG_FACILITY], row[F.LOG_SYSLOG_SEVERITY]) == (20, 5)
    assert (row[F.PROCESS_PID], row[F.LOG_SYSLOG_MSGID], row[F.MESSAGE]) == (None, "ID47", "hi")


def test_first_sd_element_params_become_fields() -> None:
    """The first SD element's parameters are fields, escapes undone; later elements and
    repeated names do not add any."""
    events = _parse(
        [
            '<165>1 2026-11-22T10:00:01Z h app 1 - [origin ip="192.0.2.1" x="a\\"b"][meta n="2"] m',
            '<165>1 2026-11-22T10:00:02Z h app 2 - [origin ip="192.0.2.2" ip="192.0.2.9"] m',
            "<165>1 2026-11-22T10:00:03Z h app 3 - - m",
        ]
    )
    prefix = F.LOG_SYSLOG_STRUCTURED_DATA + "."
    assert events.get_column(prefix + "origin.ip").to_list() == ["192.0.2.1", "192.0.2.2", None]
    assert events.get_column(prefix + "origin.x").to_list() == ['a"b', None, None]
    assert prefix + "meta.n" not in events.columns


def test_structured_data_fields_are_capped() -> None:
    """Hostile structured data with many parameter names adds at most MAX_SD_FIELDS columns."""
    params = " ".join(f'p{i}="v"' for i in range(100))
    events = _parse([f"<165>1 2026-11-22T10:00:01Z h app 1 - [many {params}] m"])
    sd_columns = [c for c in events.columns if c.startswith(F.LOG_SYSLOG_STRUCTURED_DATA + ".")]
    assert len(sd_columns) == MAX_SD_FIELDS


def test_two_kinds_may_not_share_a_start() -> None:
    """A kind table whose kinds claim the same literal is a programming error."""
    a = MessageKind("a", ("Same ",), "Same (?P<x>.*)", "a", "unknown")
    b = MessageKind("b", ("Same ",), "Same (?P<y>.*)", "b", "unknown")
    with pytest.raises(ValueError, match="two message kinds start with 'Same '"):
        KindTable((a, b))


@pytest.mark.parametrize("kind", list(KINDS.kinds.values()), ids=lambda k: k.name)
def test_kind_fields_name_only_groups_of_its_patterns(kind: MessageKind) -> None:
    """A kind's fields can be computed from its pattern's groups alone (a missing group
    would fail only on the first matching line in production)."""
    groups = set(re.findall(r"\(\?P<(\w+)>", kind.pattern))
    if kind.fast is not None:
        assert set(re.findall(r"\(\?P<(\w+)>", kind.fast)) <= groups
    row = pl.DataFrame({g: pl.Series([None], dtype=pl.String) for g in groups})
    exprs = [pl.lit(1).alias("_one"), *(e.alias(n) for n, e in kind.fields.items())]
    for value in (kind.action, kind.outcome):
        if isinstance(value, pl.Expr):
            exprs.append(value)
    assert row.select(exprs).height == 1
