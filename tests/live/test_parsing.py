"""Live lines to Batches through analyze's parse path: one parser per origin, line
numbers kept, rejects counted, a parser fault contained."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.clock import FixedClock
from vigil.live.parsing import PARSER_FAULT, LiveParsers, SourceFormat
from vigil.parsers.sshd import SshdParser
from vigil.sources.live import Position, RawChunk

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
FAIL = "Nov 22 10:00:0{} bastion sshd[1]: Failed password for root from 203.0.113.7 port 4{} ssh2"


def chunk(lines: list[str], first: int | None = 1, origin: str = "/var/log/auth.log") -> RawChunk:
    if first is None:
        return RawChunk("auth", origin, lines, NOW)
    after = first + len(lines)
    end = Position(origin, "1:x", 100 * after, after)
    start = Position(origin, "1:x", 100 * first, first)
    return RawChunk("auth", origin, lines, NOW, first_line=first, position=end, start=start)


def parsers(fmt: str | None = None) -> LiveParsers:
    return LiveParsers(
        {"auth": SourceFormat(fmt)}, tz="UTC", format_options={}, clock=FixedClock(NOW)
    )


def test_consecutive_chunks_parse_as_one_group_with_line_numbers() -> None:
    """Chunks of one file that follow on make one group; events keep their file and
    line; the group spans from the first chunk's start to the last one's end."""
    groups = parsers().parse([chunk([FAIL.format(1, 1)], 1), chunk([FAIL.format(2, 2), "junk"], 2)])
    assert len(groups) == 1
    g = groups[0]
    assert g.events is not None
    assert g.events["log.file.line"].to_list() == [1, 2]
    assert g.events["log.file.path"].unique().to_list() == ["/var/log/auth.log"]
    assert g.lines == 3 and sum(g.rejects.values()) == 1
    assert g.start is not None and g.end is not None and (g.start.line, g.end.line) == (1, 4)


def test_a_new_file_and_a_reject_chunk_stand_apart() -> None:
    """A chunk that does not follow on (a new file from line 1) and a chunk of
    source-side rejects make groups of their own, in arrival order."""
    overlong = RawChunk(
        "auth", "/var/log/auth.log", [], NOW, first_line=3, rejects=[("line too long", "x")]
    )
    groups = parsers().parse(
        [chunk([FAIL.format(1, 1), FAIL.format(2, 2)], 1), overlong, chunk([FAIL.format(3, 3)], 1)]
    )
    assert [(g.lines, g.events.height if g.events is not None else 0) for g in groups] == [
        (2, 2),
        (1, 0),
        (1, 1),
    ]
    assert groups[1].rejects == {"line too long": 1}


def test_network_lines_are_numbered_per_origin() -> None:
    """Lines without file line numbers are numbered in arrival order per origin."""
    p = parsers("sshd")
    first = p.parse([chunk([FAIL.format(1, 1)], None, "udp://192.0.2.1:514")])
    second = p.parse([chunk([FAIL.format(2, 2)], None, "udp://192.0.2.1:514")])
    lines = [g.events["log.file.line"].to_list() for g in (*first, *second) if g.events is not None]
    assert lines == [[1], [2]]


def test_unknown_format_is_rejected_then_sniffed_again() -> None:
    """Lines no parser takes are rejects; the origin is sniffed again next time."""
    p = parsers()
    (g,) = p.parse([chunk(["\x01\x02 not a log line"], 1)])
    assert g.events is None and sum(g.rejects.values()) == 1
    (g,) = p.parse([chunk([FAIL.format(1, 1)], 2)])
    assert g.events is not None and g.events.height == 1


def test_parser_fault_rejects_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside a parser turns its lines into counted rejects."""

    def broken(self: SshdParser, frame: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(SshdParser, "parse", broken)
    (g,) = parsers("sshd").parse([chunk([FAIL.format(1, 1)], 1)])
    assert g.events is None
    assert g.rejects == {f"{PARSER_FAULT}: RuntimeError": 1}
