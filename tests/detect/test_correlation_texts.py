"""The correlation text store: exact keys despite hash collisions, and bounded memory."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tests.detect.correlation_rules import by_source_ip
from vigil.clock import FixedClock
from vigil.detect.correlation import Bound, CorrelationEngine, CorrelationKind, CorrelationSpec
from vigil.detect.correlation.texts import COMPACT_MIN, HashCollision, TextStore

T0 = datetime(2026, 11, 22, tzinfo=UTC)
IPS = ["203.0.113.1", "203.0.113.2", "198.51.100.3", "2001:db8::4"]


def _spec(kind: CorrelationKind = CorrelationKind.EVENT_COUNT, need: int = 3) -> CorrelationSpec:
    return by_source_ip(kind, (Bound("gte", need),), ["r"], timedelta(minutes=10))


def _frame(n: int = 60, seed: int = 3, ips: list[str] = IPS) -> pl.DataFrame:
    rng = random.Random(seed)
    minutes = sorted(rng.uniform(0, 60) for _ in range(n))
    return pl.DataFrame(
        {
            "@timestamp": [T0 + timedelta(minutes=m) for m in minutes],
            "source.ip": [rng.choice(ips) for _ in minutes],
            "user.name": [rng.choice(["root", "admin", "oracle", "pi"]) for _ in minutes],
            "log.file.path": "auth.log",
            "log.file.line": list(range(1, n + 1)),
        },
        schema_overrides={"@timestamp": pl.Datetime("us", "UTC")},
    )


def _alerts(spec: CorrelationSpec, *batches: pl.DataFrame) -> list[tuple[object, ...]]:
    eng = CorrelationEngine([spec], clock=FixedClock(T0 + timedelta(days=1)))
    found = [a for b in batches for a in eng.process({"r": b})] + eng.flush(T0 + timedelta(days=1))
    return sorted(
        (a.entity["source.ip"], a.count, a.last_seen, tuple(e.line for e in a.evidence))
        for a in found
    )


def _weak(monkeypatch: pytest.MonkeyPatch, *, every_seed: bool = False) -> None:
    """Seed 0 hashes every text alike; other seeds keep 6 bits (frequent collisions)."""

    def weak(self: TextStore, text: pl.Expr) -> pl.Expr:
        if self.seed == 0 or every_seed:
            return text.hash(seed=0) * 0 + 42
        return text.hash(seed=self.seed) % 64

    monkeypatch.setattr(TextStore, "hash", weak)


@pytest.mark.parametrize("kind", [CorrelationKind.EVENT_COUNT, CorrelationKind.VALUE_COUNT])
def test_keys_and_values_sharing_a_hash_are_still_told_apart(
    monkeypatch: pytest.MonkeyPatch, kind: CorrelationKind
) -> None:
    """Every key and value hashed alike changes nothing in the alerts: a new seed is drawn."""
    frame = _frame()
    honest = _alerts(_spec(kind), frame.slice(0, 30), frame.slice(30))
    _weak(monkeypatch)
    assert _alerts(_spec(kind), frame.slice(0, 30), frame.slice(30)) == honest
    assert len(honest) >= 3


def test_a_collision_in_a_later_batch_rehashes_the_carried_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows carried from a batch without collision are hashed again when a later batch
    brings a colliding key, and still count with their key."""
    first = _frame(20, seed=5, ips=IPS[:1])
    later = _frame(40, seed=6).with_columns(
        pl.col("@timestamp") + timedelta(minutes=5), pl.col("log.file.line") + 100
    )
    honest = _alerts(_spec(), first, later)
    _weak(monkeypatch)
    assert _alerts(_spec(), first, later) == honest
    assert any(ip == IPS[0] for ip, *_ in honest)


def test_a_hash_that_never_separates_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash function colliding under every seed cannot count exactly: it says so."""
    _weak(monkeypatch, every_seed=True)
    with pytest.raises(HashCollision, match="seeds all hashed two correlation texts alike"):
        _alerts(_spec(), _frame())


def test_the_store_keeps_only_about_what_the_rules_hold() -> None:
    """A day of one-off sources: the store is compacted to the rows still in a window,
    and alerts raised after a compaction still show their own events."""
    eng = CorrelationEngine([_spec(need=2)], clock=FixedClock(T0 + timedelta(days=2)))
    heights, alerts = [], []
    for hour in range(24):
        n = 2000
        frame = pl.DataFrame(
            {
                "@timestamp": [T0 + timedelta(hours=hour, seconds=1.7 * i) for i in range(n)],
                "source.ip": [f"2001:db8::{hour:x}:{i // 2:x}" for i in range(n)],
                "log.file.path": "auth.log",
                "log.file.line": list(range(hour * n + 1, hour * n + n + 1)),
            },
            schema_overrides={"@timestamp": pl.Datetime("us", "UTC")},
        )
        alerts += eng.process({"r": frame})
        heights.append(eng._texts.height)  # the store is what is measured
    assert max(heights) <= 4 * max(COMPACT_MIN, 2 * 2000)
    assert len(alerts) == 24 * 1000
    last = alerts[-1]
    line = [e.line for e in last.evidence]
    assert line[1] == line[0] + 1 and last.entity["source.ip"].startswith("2001:db8::17:")
