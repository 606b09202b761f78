"""The netfilter parser: sniffing kernel logs, prefixes to outcomes, headerless forms."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from tests.samples import SAMPLES, load_sample
from vigil.parsers.base import LINE, ParseContext
from vigil.parsers.netfilter import NO_DATE, NetfilterParser
from vigil.parsers.syslog import SyslogParser
from vigil.pipeline.analyze import sniff
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PACKET = (
    "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=203.0.113.7 "
    "DST=198.51.100.10 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=51515 DPT=22 "
    "WINDOW=64240 RES=0x00 SYN URGP=0"
)


def _frame(lines: list[str]) -> pl.DataFrame:
    numbers = pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True)
    return pl.DataFrame({LINE: pl.Series(lines, dtype=pl.String), F.LOG_FILE_LINE: numbers})


def _ctx() -> ParseContext:
    return ParseContext("test", year=2026, now=NOW)


def test_sniff_picks_netfilter_for_a_kern_log() -> None:
    """A kern.log with firewall lines comes out as netfilter."""
    lines = load_sample(SAMPLES / "netfilter/kern.log").lines
    assert sniff(lines, _ctx()) is NetfilterParser


def test_sniff_leaves_a_syslog_with_some_firewall_lines_to_syslog() -> None:
    """A /var/log/syslog with a UFW line among other programs stays syslog."""
    lines = [
        "Nov 22 00:00:01 web1 systemd[1]: Starting Daily apt upgrade and clean activities...",
        "Nov 22 00:05:01 web1 CRON[4242]: (root) CMD (command -v debian-sa1 > /dev/null)",
        "Nov 22 00:20:13 web1 dhclient[612]: DHCPACK of 192.0.2.40 from 192.0.2.1",
        f"Nov 22 00:22:00 web1 kernel: [ 8123.456789] [UFW BLOCK] {PACKET}",
        "Nov 22 00:23:00 web1 systemd[1]: Started Session 12 of User alice.",
    ]
    assert NetfilterParser.sniff(_frame(lines), _ctx()) == 0.0
    assert sniff(lines, _ctx()) is SyslogParser


def test_kernel_lines_without_packets_do_not_make_a_firewall_log() -> None:
    """A kern.log without any packet line scores 0 for netfilter."""
    lines = ["Nov 22 10:00:09 fw kernel: [12353.000000] e1000e: eth0 NIC Link is Up"] * 3
    assert NetfilterParser.sniff(_frame(lines), _ctx()) == 0.0


@pytest.mark.parametrize(
    ("prefix", "action", "outcome", "event_type"),
    [
        ("[UFW BLOCK] ", "UFW BLOCK", "failure", "denied"),
        ("[UFW ALLOW] ", "UFW ALLOW", "success", "allowed"),
        ("[UFW LIMIT BLOCK] ", "UFW LIMIT BLOCK", "failure", "denied"),
        ("IPTABLES-DROP: ", "IPTABLES-DROP", "failure", "denied"),
        ("iptables reject: ", "iptables reject", "failure", "denied"),
        ("nft accept in: ", "nft accept in", "success", "allowed"),
        ("DENIED ", "DENIED", "failure", "denied"),
        ("[UFW AUDIT] ", "UFW AUDIT", "unknown", "info"),
        ("", None, "unknown", "info"),
    ],
)
def test_log_prefix_gives_action_and_outcome(
    prefix: str, action: str | None, outcome: str, event_type: str
) -> None:
    """The trimmed log prefix is event.action; block/drop/reject/deny is a failure and
    allow/accept a success."""
    line = f"Nov 22 10:00:01 fw kernel: [12345.678901] {prefix}{PACKET}"
    row = parse_lines(NetfilterParser(_ctx()), _frame([line])).events.row(0, named=True)
    assert (row[F.EVENT_ACTION], row[F.EVENT_OUTCOME], row["event.type"]) == (
        action,
        outcome,
        event_type,
    )
    assert (row[F.SOURCE_IP], row[F.DESTINATION_PORT], row[F.NETWORK_TRANSPORT]) == (
        "203.0.113.7",
        22,
        "tcp",
    )
    assert (row[F.SOURCE_MAC], row["destination.mac"]) == ("52-54-00-AB-CD-EF", "52-54-00-12-34-56")


def test_plain_dmesg_lines_are_rejected_for_lack_of_a_date() -> None:
    """`dmesg` without -T only knows seconds since boot: a reject saying so."""
    result = parse_lines(NetfilterParser(_ctx()), _frame([f"[12345.678] [UFW BLOCK] {PACKET}"]))
    assert result.events.height == 0
    assert result.rejects.get_column("reason").to_list() == [NO_DATE]


def test_syslog_parser_gives_firewall_lines_the_same_fields() -> None:
    """The syslog parser extracts kernel packet lines exactly as netfilter does."""
    line = f"Nov 22 10:00:01 fw kernel: [12345.678901] [UFW BLOCK] {PACKET}"
    by_netfilter = parse_lines(NetfilterParser(_ctx()), _frame([line])).events
    by_syslog = parse_lines(SyslogParser(_ctx()), _frame([line])).events
    assert by_syslog.drop(F.EVENT_DATASET).equals(by_netfilter.drop(F.EVENT_DATASET))
    assert by_syslog.get_column(F.EVENT_DATASET).to_list() == ["syslog"]
