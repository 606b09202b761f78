"""Rebuilding windows after a restart: where each file is re-read from, and the
decided-episode markers that keep a long episode from firing again."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import polars as pl

from tests.detect.correlation_rules import ACCEPTED, FAILED
from vigil.alerts.model import Alert
from vigil.clock import FixedClock
from vigil.detect.correlation import CorrelationEngine, load_collection, specs_from_collection
from vigil.live.replay import ReplayMarks, decided_markers, held_since, restore_markers
from vigil.sources.live import Position

T0 = datetime(2026, 11, 22, 0, tzinfo=UTC)
ATTACKER = "203.0.113.7"


def rule(kind: str = "event_count", condition: str = "{gte: 5}", extra: str = "") -> str:
    return f"""{FAILED}
---
{ACCEPTED}
---
title: Brute force
name: brute
correlation:
  type: {kind}
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {condition}
{extra}"""


def engine(text: str | None = None) -> CorrelationEngine:
    specs, refused = specs_from_collection(load_collection(text or rule()))
    assert not refused
    return CorrelationEngine(specs, clock=FixedClock(T0 + timedelta(days=2)))


def failures(minutes: list[float], ip: str = ATTACKER) -> dict[str, pl.DataFrame]:
    n = len(minutes)
    frame = pl.DataFrame(
        {
            "@timestamp": [T0 + timedelta(minutes=m) for m in minutes],
            "source.ip": [ip] * n,
            "user.name": [f"root{int(m)}" for m in minutes],
            "log.file.path": ["/var/log/auth.log"] * n,
            "log.file.line": list(range(1, n + 1)),
            "message": ["Failed password"] * n,
        },
        schema_overrides={"@timestamp": pl.Datetime("us", "UTC"), "log.file.line": pl.UInt64},
    )
    return {"ssh_failed": frame}


def feed(eng: CorrelationEngine, minutes: list[float], step: int = 30) -> list[Alert]:
    """Feed events in batches of `step`, as the daemon would."""
    alerts: list[Alert] = []
    for i in range(0, len(minutes), step):
        alerts += eng.process(failures(minutes[i : i + step]))
    return alerts


def every_minute(start: int, end: int) -> list[float]:
    return [float(m) for m in range(start, end)]


class TestMarks:
    def test_replay_starts_at_the_first_batch_still_held(self) -> None:
        """A file is re-read from its first batch whose newest event is still held."""
        marks = ReplayMarks()
        for i, offset in enumerate((0, 100, 200)):
            start = Position("/var/log/a.log", "4:x", offset, 1 + 10 * i)
            marks.record("auth", start, T0 + timedelta(minutes=10 * i))
        key = ("auth", "/var/log/a.log")
        assert marks.replay_from(key, T0 + timedelta(minutes=5)) == Position(
            "/var/log/a.log", "4:x", 100, 11
        )
        assert marks.replay_from(key, None) is None
        assert marks.replay_from(key, T0) is None  # the marks were let go

    def test_a_new_file_under_the_name_drops_the_old_marks(self) -> None:
        """A batch starting at offset 0 is a new file: earlier marks are not its own."""
        marks = ReplayMarks()
        marks.record("auth", Position("a", "1:x", 50, 5), T0)
        marks.record("auth", Position("a", "1:y", 0, 1), T0 + timedelta(minutes=1))
        assert marks.replay_from(("auth", "a"), T0) == Position("a", "1:y", 0, 1)


class TestDecidedMarkers:
    def test_a_long_episode_does_not_fire_again_after_a_restart(self) -> None:
        """Re-reading the held rows of a decided episode, with its marker put back, does
        not fire it again; without the marker it would."""
        first = engine()
        assert len(feed(first, every_minute(0, 600))) == 1
        held = held_since(first)
        assert held is not None and held > T0 + timedelta(minutes=500)
        markers = decided_markers(first)
        assert set(markers) == {"brute"}
        resumed = every_minute(int((held - T0).total_seconds() // 60), 620)

        second = engine()
        assert restore_markers(second, markers) == 1
        assert feed(second, resumed) == []

        control = engine()
        assert len(feed(control, resumed)) == 1

    def test_a_new_episode_after_a_gap_still_fires(self) -> None:
        """A marker belongs to its episode: events after a gap longer than the window
        start a new episode, which fires."""
        first = engine()
        feed(first, every_minute(0, 30))
        second = engine()
        restore_markers(second, decided_markers(first))
        assert len(feed(second, every_minute(60, 70))) == 1

    def test_markers_count_nothing(self) -> None:
        """A marker is the newest row of its episode, flagged decided, with no weight and
        no counted value."""
        text = rule("value_count", "{field: user.name, gte: 5}")
        first = engine(text)
        assert len(feed(first, every_minute(0, 7))) == 1
        marker = pl.read_ipc(io.BytesIO(decided_markers(first)["brute"]))
        assert marker.height == 1
        row = marker.row(0, named=True)
        assert (row["_w"], row["_v"], row["_done"]) == (0, None, True)
        assert row["_ts"] == int((timedelta(minutes=6)).total_seconds() * 1e6) + int(
            T0.timestamp() * 1e6
        )

    def test_a_changed_rule_gets_no_markers(self) -> None:
        """Markers whose columns no longer fit the rule (edited since) are left out."""
        first = engine()
        feed(first, every_minute(0, 10))
        changed = engine(rule("value_count", "{field: user.name, gte: 5}"))
        assert restore_markers(changed, decided_markers(first)) == 0


def test_a_renamed_file_keeps_its_marks() -> None:
    """Read on under its rotated name, a file keeps the marks it had under the old one;
    the new file under the old name starts its own."""
    marks = ReplayMarks()
    fp = "1024:" + "a" * 32
    marks.record("auth", Position("auth.log", fp, 2000, 20), T0)
    marks.record("auth", Position("auth.log.1", fp, 5000, 50), T0 + timedelta(minutes=1))
    marks.record("auth", Position("auth.log", "10:b", 0, 1), T0 + timedelta(minutes=2))
    assert marks.replay_from(("auth", "auth.log.1"), T0) == Position("auth.log", fp, 2000, 20)
    assert marks.replay_from(("auth", "auth.log"), T0) == Position("auth.log", "10:b", 0, 1)
