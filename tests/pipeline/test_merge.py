"""Several inputs reach the sinks in event-time order (pipeline.merge, analyze)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from tests.pipeline.support import CollectSink
from vigil.alerts.gate import AlertGate
from vigil.clock import FixedClock
from vigil.detect.rulepack import load_pack
from vigil.detect.stage import DetectionStage
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.merge import TimeMerge
from vigil.schema.fields import F

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
FLOOD_RULES = """\
title: Connection (test)
name: conn_test
id: 6a0d3c52-53a4-4bbf-8b4e-000000000001
logsource: {category: firewall}
detection:
  sel: {event.outcome: success}
  condition: sel
level: low
---
title: Flood (test)
name: flood_test
id: 6a0d3c52-53a4-4bbf-8b4e-000000000002
correlation:
  type: event_count
  rules: [conn_test]
  group-by: [source.ip, destination.ip]
  timespan: 1m
  condition: {gte: 40}
level: high
"""


def _firewall_lines(seconds: range, source: str = "203.0.113.7") -> str:
    return "".join(
        f"{(START + timedelta(seconds=s)):%Y-%m-%d %H:%M:%S} | {source} | 198.51.100.10 | TCP"
        f" | ALLOW | {40000 + s % 20000} | 443\n"
        for s in seconds
    )


def _times(batches: list[pl.DataFrame]) -> list[datetime]:
    return [t for b in batches for t in b.get_column(F.TIMESTAMP).to_list()]


def test_overlapping_inputs_reach_the_sinks_in_time_order(tmp_path: Path) -> None:
    """Two logs of the same hours (two firewalls) are interleaved by event time."""
    a, b = tmp_path / "fw-a.log", tmp_path / "fw-b.log"
    a.write_text(_firewall_lines(range(0, 4000, 2)))
    b.write_text(_firewall_lines(range(1, 4000, 2)))
    sink = CollectSink()
    report = analyze([str(a), str(b)], AnalyzeOptions(block_bytes=16 << 10), sinks=[sink])
    times = _times(sink.batches)
    assert len(times) == 4000 == report.events
    assert times == sorted(times)
    assert len(sink.batches) > 2  # released as the inputs go, not all at the end
    assert sink.closed
    assert [f.events for f in report.files] == [2000, 2000]


def test_overlapping_logs_give_the_alerts_of_one_log(tmp_path: Path) -> None:
    """A flood split over two files of the same minutes is found as in one file: no
    event of the second file is late for the rule."""
    rules = tmp_path / "flood.yml"
    rules.write_text(FLOOD_RULES)
    # A flood in the first minute, then ten minutes of quiet traffic: past the rule's
    # lateness, so read one after the other the second file's flood would be late.
    flood, rest = range(0, 60), range(60, 660, 10)

    def lines(seconds: range, part: slice) -> str:
        return _firewall_lines(seconds[part]) + _firewall_lines(rest[part], "192.0.2.1")

    both, a, b = tmp_path / "fw.log", tmp_path / "fw-a.log", tmp_path / "fw-b.log"
    both.write_text(lines(flood, slice(None)))
    a.write_text(lines(flood, slice(0, None, 2)))
    b.write_text(lines(flood, slice(1, None, 2)))

    def alerts(paths: list[Path]) -> list[tuple[str, int]]:
        clock = FixedClock(START)
        stage = DetectionStage(load_pack([rules], include_default=False), AlertGate(clock), clock)
        analyze([str(p) for p in paths], AnalyzeOptions(), sinks=[stage])
        stage.close()
        assert not any(s.late for s in stage.correlation.stats())
        return [(a.rule_name, a.count) for a in stage.alerts]

    assert alerts([a, b]) == alerts([both]) == [("flood_test", 40)]


def test_inputs_apart_in_time_are_read_one_after_the_other(tmp_path: Path) -> None:
    """Rotated logs: each batch holds one file's events, the older file's first, even
    when the newer file has the older modification time."""
    old, new = tmp_path / "fw.log.1", tmp_path / "fw.log"
    old.write_text(_firewall_lines(range(0, 3000)))
    new.write_text(_firewall_lines(range(3000, 6000)))
    os.utime(new, (1_000_000, 1_000_000))
    sink = CollectSink()
    analyze([str(new), str(old)], AnalyzeOptions(block_bytes=16 << 10), sinks=[sink])
    paths = [b.get_column(F.LOG_FILE_PATH).unique().to_list() for b in sink.batches]
    assert all(len(p) == 1 for p in paths)
    order = [p[0] for p in paths]
    assert order == sorted(order, key=lambda p: p != str(old))
    assert _times(sink.batches) == sorted(_times(sink.batches))


def test_one_input_passes_its_events_in_file_order(tmp_path: Path) -> None:
    """Alone, an input's events go on as its lines come, even out of time order."""
    log = tmp_path / "fw.log"
    log.write_text(_firewall_lines(range(10, 0, -1)))
    sink = CollectSink()
    analyze([str(log)], AnalyzeOptions(), sinks=[sink])
    lines = [n for b in sink.batches for n in b.get_column(F.LOG_FILE_LINE).to_list()]
    assert lines == list(range(1, 11))


def test_held_events_go_on_once_every_input_is_past_them() -> None:
    """`release(t)` passes on exactly the events at or before t, sorted, and keeps the rest."""
    sink = CollectSink()
    merge = TimeMerge([sink])

    def frame(seconds: list[int], name: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                F.TIMESTAMP: [START + timedelta(seconds=s) for s in seconds],
                "from": [name] * len(seconds),
            }
        )

    merge.add(frame([1, 3, 5], "a"))
    merge.add(frame([2, 4, 6], "b"))
    merge.release(START + timedelta(seconds=4))
    assert len(sink.batches) == 1
    assert sink.batches[0].get_column("from").to_list() == ["a", "b", "a", "b"]
    merge.release(None)
    assert sink.batches[1].get_column("from").to_list() == ["a", "b"]


def test_inputs_whose_fields_clash_in_type_go_on_one_batch_each() -> None:
    """A field that is a list in one input and a number in the other cannot share a
    batch: each input's part goes on alone, the oldest first."""
    sink = CollectSink()
    merge = TimeMerge([sink])
    merge.add(pl.DataFrame({F.TIMESTAMP: [START + timedelta(seconds=2)], "x": [[1]]}))
    merge.add(pl.DataFrame({F.TIMESTAMP: [START + timedelta(seconds=1)], "x": [1]}))
    merge.release(None)
    assert [b.schema["x"] for b in sink.batches] == [pl.Int64, pl.List(pl.Int64)]
