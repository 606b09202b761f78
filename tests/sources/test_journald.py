"""The journald source: journalctl's JSON entries as syslog lines the parsers read, and
the real journalctl following a journal written by systemd-journal-remote."""

from __future__ import annotations

import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import DATA
from tests.sources.netutil import Collector
from vigil.errors import SourceError
from vigil.parsers.base import ParseContext
from vigil.parsers.syslog import SyslogParser
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F
from vigil.sources.journald import JournaldSource, default_cursor_path
from vigil.sources.journald_entries import NO_MESSAGE, NOT_AN_ENTRY, entries_to_lines
from vigil.sources.net_settings import JournaldSettings

SAMPLES = DATA / "journald" / "entries.json"
JOURNAL_REMOTE = shutil.which("systemd-journal-remote", path="/lib/systemd:/usr/lib/systemd")
T0 = 1_795_860_001_000_000  # 2026-11-28T10:00:01Z in microseconds


def _sample_entries() -> list[bytes]:
    return SAMPLES.read_bytes().split(b"\n")


def test_entries_become_syslog_lines():
    """Each journal entry is one syslog line: PRI from facility and priority, the
    sender's time when given, host, identifier[pid], the message with #012 for line
    breaks; an undecodable message is replaced and counted; no MESSAGE is a reject."""
    out = entries_to_lines(_sample_entries())
    assert out.lines == [
        "<38>2026-11-28T10:00:00.999750+00:00 web1 sshd[4242]: "
        "Failed password for root from 203.0.113.7 port 51515 ssh2",
        "<38>2026-11-28T10:00:02.000000+00:00 web1 sshd[4243]: "
        "Invalid user admin from 2001:db8::7 port 40022",
        "<4>2026-11-28T10:00:03.000000+00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= "
        "MAC=00:00:5e:00:53:01 SRC=198.51.100.23 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=51515 "
        "DPT=22 WINDOW=64240 SYN URGP=0",
        "<27>2026-11-28T10:00:04.000000+00:00 web1 app[77]: "
        'Traceback (most recent call last):#012  File "app.py", line 1#012ValueError: boom',
        "<29>2026-11-28T10:00:05.000000+00:00 web1 worker[78]: caf\ufffd \\x1b[1mbold\\x1b[0m",
        "2026-11-28T10:00:07.000000+00:00 web1 unknown: no identifier, no priority, no pid",
    ]
    assert out.rejects == [(NO_MESSAGE, "")]
    assert out.replaced == 1
    assert out.cursor is not None
    assert out.cursor.startswith("s=") and ";i=7;" in out.cursor


def test_lines_parse_as_they_would_from_a_log_file():
    """The syslog parser reads the lines like auth.log and kern.log lines: sshd and
    netfilter fields, the sender's timestamp, the priority."""
    lines = entries_to_lines(_sample_entries()).lines
    frame = pl.DataFrame(
        {"line": lines, F.LOG_FILE_LINE: pl.Series(range(1, len(lines) + 1), dtype=pl.UInt64)}
    )
    result = parse_lines(SyslogParser(ParseContext(origin="journald")), frame)
    assert result.rejects.height == 0
    events = result.events.sort(F.LOG_FILE_LINE)
    assert events.get_column(F.SOURCE_IP).to_list()[:3] == [
        "203.0.113.7",
        "2001:db8::7",
        "198.51.100.23",
    ]
    assert events.get_column(F.TIMESTAMP)[0] == datetime(2026, 11, 28, 10, 0, 0, 999750, UTC)
    assert events.get_column(F.HOST_NAME).to_list()[2] == "gw"
    assert events.get_column("log.syslog.severity.code").to_list()[:4] == [6, 6, 4, 3]


def test_a_line_that_is_not_an_entry_is_a_reject_and_the_rest_still_convert():
    """A cut-off line (journalctl killed mid-write) is a reject; its batch still converts."""
    entries = [*_sample_entries()[:2], b'{"MESSAGE":"cut', b"\xff\x00 noise"]
    out = entries_to_lines(entries)
    assert len(out.lines) == 2
    assert [r for r, _ in out.rejects] == [NOT_AN_ENTRY, NOT_AN_ENTRY]
    assert out.rejects[1][1] == "\\xff\\x00 noise"


def test_missing_journalctl_is_a_clear_start_error():
    """A host without journalctl: start() fails with a one-line reason."""
    source = JournaldSource("journal", JournaldSettings(), journalctl="vigil-no-journalctl")
    with pytest.raises(SourceError, match="journalctl not found: this host has no systemd"):
        source.start(Collector())


def test_no_journal_files_is_a_clear_start_error(tmp_path):
    """journalctl present but no journal to read: start() says so."""
    source = JournaldSource("journal", JournaldSettings(directory=tmp_path))
    with pytest.raises(SourceError, match="no journal files were found"):
        source.start(Collector())


def _export(messages: list[str], first: int) -> bytes:
    """Entries in the journal export format, as systemd-journal-remote reads it."""
    out = []
    for n, message in enumerate(messages, start=first):
        fields = {
            "__REALTIME_TIMESTAMP": str(T0 + n * 1_000_000),
            "__MONOTONIC_TIMESTAMP": str(1000 + n),
            "_BOOT_ID": "9f0e1d2c3b4a59687766554433221100",
            "_HOSTNAME": "web1",
            "_TRANSPORT": "syslog",
            "PRIORITY": "6",
            "SYSLOG_FACILITY": "4",
            "SYSLOG_IDENTIFIER": "sshd",
            "SYSLOG_PID": str(4000 + n),
        }
        text = b"".join(f"{k}={v}\n".encode() for k, v in fields.items())
        body = message.encode()
        out.append(text + b"MESSAGE\n" + struct.pack("<Q", len(body)) + body + b"\n\n")
    return b"".join(out)


def _write_journal(directory: Path, name: str, messages: list[str], first: int) -> None:
    assert JOURNAL_REMOTE is not None, "make test installs systemd-journal-remote"
    directory.mkdir(exist_ok=True)
    subprocess.run(
        [JOURNAL_REMOTE, f"--output={directory / name}.journal", "-"],
        input=_export(messages, first),
        check=True,
        capture_output=True,
    )


def _failed(n: int) -> str:
    return f"Failed password for root from 203.0.113.{n} port 51515 ssh2"


def test_follows_a_real_journal_and_resumes_after_its_cursor(tmp_path):
    """journalctl follows the journal: stored entries (start_at beginning), then new
    ones; after a restart it resumes after the saved cursor, repeating nothing."""
    journal = tmp_path / "journal"
    cursor = default_cursor_path(tmp_path / "var", "journal")
    _write_journal(journal, "a", [_failed(1), _failed(2)], first=0)
    settings = JournaldSettings(directory=journal, start_at="beginning", batch_ms=10)
    collector = Collector()
    source = JournaldSource("journal", settings, cursor_path=cursor)
    source.start(collector)
    try:
        collector.wait_lines(2)
        _write_journal(journal, "b", [_failed(3)], first=2)
        lines = collector.wait_lines(3)
    finally:
        source.stop()
    assert [line.split(": ", 1)[1] for line in lines] == [_failed(1), _failed(2), _failed(3)]
    assert lines[2].startswith("<38>2026-11-28T10:00:03.000000+00:00 web1 sshd[4002]: ")
    assert ";m=3ea;" in cursor.read_text()  # the third entry's monotonic time, 1002
    assert source.stats().lines == 3

    _write_journal(journal, "c", [_failed(4)], first=3)
    again = Collector()
    resumed = JournaldSource("journal", settings, cursor_path=cursor)
    resumed.start(again)
    try:
        assert [line.split(": ", 1)[1] for line in again.wait_lines(1)] == [_failed(4)]
    finally:
        resumed.stop()
    assert len(again.lines) == 1


def test_start_at_end_and_a_bad_cursor(tmp_path):
    """start_at end skips what is stored; an unusable saved cursor falls back to it."""
    journal = tmp_path / "journal"
    cursor = tmp_path / "journal.cursor"
    cursor.write_text("s=not-a-cursor\n")
    _write_journal(journal, "a", [_failed(1)], first=0)
    collector = Collector()
    source = JournaldSource(
        "journal", JournaldSettings(directory=journal, batch_ms=10), cursor_path=cursor
    )
    source.start(collector)
    try:
        _write_journal(journal, "b", [_failed(2)], first=1)
        assert [line.split(": ", 1)[1] for line in collector.wait_lines(1)] == [_failed(2)]
    finally:
        source.stop()
    assert ";i=" in cursor.read_text()
    assert len(collector.lines) == 1
