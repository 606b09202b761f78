"""The engine against a plain-Python reading of the documented semantics, on random data.

The oracle sees all events at once and follows the package docstring literally: windows
[t - span, t] at every event, episodes split by gaps longer than the span, the first
satisfying window for lower-bound conditions, the peak at episode end otherwise. The
engine sees the same events in random batches (shuffled inside each batch, batches in
time order) and must raise exactly the same alerts.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tests.detect.correlation_rules import by_source_ip
from vigil.clock import FixedClock
from vigil.detect.correlation import Bound, CorrelationEngine, CorrelationKind, CorrelationSpec

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
SPAN = 10  # minutes
IPS = ("203.0.113.7", "198.51.100.23", "2001:db8::5")


@dataclass(frozen=True)
class Ev:
    minute: int
    ip: str
    rule: int
    weight: int
    value: str
    line: int


def _spec(kind: CorrelationKind, bounds: tuple[Bound, ...], rules: int) -> CorrelationSpec:
    names = [f"r{k}" for k in range(rules)]
    return by_source_ip(kind, bounds, names, timedelta(minutes=SPAN))


def _measure(kind: CorrelationKind, window: list[Ev], rules: int) -> int:
    if kind is CorrelationKind.EVENT_COUNT:
        return sum(e.weight for e in window)
    if kind is CorrelationKind.VALUE_COUNT:
        return len({e.value for e in window})
    if kind is CorrelationKind.TEMPORAL:
        return len({e.rule for e in window})
    done = 0
    for minute in sorted({e.minute for e in window}):
        present = {e.rule for e in window if e.minute == minute}
        while done < rules and done in present:
            done += 1
    return done


def _oracle(spec: CorrelationSpec, events: list[Ev], rules: int) -> set[tuple[object, ...]]:
    span = SPAN
    found: set[tuple[object, ...]] = set()
    for ip in IPS:
        mine = sorted((e for e in events if e.ip == ip), key=lambda e: e.minute)
        episodes: list[list[Ev]] = []
        for e in mine:
            if episodes and e.minute - episodes[-1][-1].minute <= span:
                episodes[-1].append(e)
            else:
                episodes.append([e])
        for ep in episodes:
            scored = []
            for e in ep:
                window = [x for x in ep if e.minute - span <= x.minute <= e.minute]
                m = _measure(spec.kind, window, rules)
                scored.append((e.minute, m, window))
            if spec.deferred:
                peak = max(m for _, m, _ in scored)
                chosen = next(s for s in scored if s[1] == peak)
                if not spec.holds(np.array([peak]))[0]:
                    continue
            else:
                hits = [s for s in scored if spec.holds(np.array([s[1]]))[0]]
                if not hits:
                    continue
                chosen = hits[0]
            minute, _, window = chosen
            first = min(x.minute for x in window)
            found.add((ip, sum(x.weight for x in window), first, minute))
    return found


def _frame(events: list[Ev]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "@timestamp": [T0 + timedelta(minutes=e.minute) for e in events],
            "source.ip": [e.ip for e in events],
            "user.name": [e.value for e in events],
            "event.count": [e.weight for e in events],
            "log.file.path": ["auth.log"] * len(events),
            "log.file.line": [e.line for e in events],
            "message": [f"line {e.line}" for e in events],
        },
        schema_overrides={"@timestamp": pl.Datetime("us", "UTC"), "event.count": pl.UInt32},
    )


def _engine_run(
    spec: CorrelationSpec, events: list[Ev], rules: int, rng: random.Random
) -> set[tuple[object, ...]]:
    engine = CorrelationEngine([spec], clock=FixedClock(T0 + timedelta(days=30)))
    minutes = sorted({e.minute for e in events})
    cuts = sorted(rng.sample(minutes[1:], k=min(len(minutes) - 1, rng.randint(0, 6))))
    alerts = []
    bounds = [minutes[0], *cuts, minutes[-1] + 1]
    for lo, hi in itertools.pairwise(bounds):
        batch = [e for e in events if lo <= e.minute < hi]
        rng.shuffle(batch)
        matches = {f"r{k}": _frame([e for e in batch if e.rule == k]) for k in range(rules)}
        alerts += engine.process(matches)
    alerts += engine.flush(T0 + timedelta(days=20))
    start = T0.timestamp()
    return {
        (
            a.entity["source.ip"],
            a.count,
            round((a.first_seen.timestamp() - start) / 60),
            round((a.last_seen.timestamp() - start) / 60),
        )
        for a in alerts
    }


CASES = [
    (CorrelationKind.EVENT_COUNT, (Bound("gte", 5),), 1),
    (CorrelationKind.EVENT_COUNT, (Bound("gt", 6),), 1),
    (CorrelationKind.EVENT_COUNT, (Bound("gte", 4), Bound("lt", 9)), 1),
    (CorrelationKind.EVENT_COUNT, (Bound("eq", 5),), 1),
    (CorrelationKind.EVENT_COUNT, (Bound("lte", 3),), 1),
    (CorrelationKind.VALUE_COUNT, (Bound("gte", 3),), 1),
    (CorrelationKind.VALUE_COUNT, (Bound("gte", 2), Bound("lte", 3)), 1),
    (CorrelationKind.TEMPORAL, (Bound("gte", 3),), 3),
    (CorrelationKind.TEMPORAL, (Bound("eq", 2),), 3),
    (CorrelationKind.TEMPORAL_ORDERED, (Bound("gte", 3),), 3),
    (CorrelationKind.TEMPORAL_ORDERED, (Bound("gte", 2), Bound("lt", 3)), 3),
]


@pytest.mark.parametrize(("kind", "bounds", "rules"), CASES)
@pytest.mark.parametrize("seed", range(12))
def test_engine_matches_oracle_under_any_batching(
    kind: CorrelationKind, bounds: tuple[Bound, ...], rules: int, seed: int
) -> None:
    """Random events in random in-order batches raise exactly the oracle's alerts."""
    rng = random.Random(seed * 1000 + len(bounds))
    density = rng.choice([3, 6, 12])
    events = [
        Ev(
            minute=rng.randint(0, 240),
            ip=rng.choice(IPS),
            rule=rng.randrange(rules),
            weight=rng.choice([1, 1, 1, 2, 5]),
            value=rng.choice("abcde"),
            line=i + 1,
        )
        for i in range(rng.randint(20, 240 // density * 6))
    ]
    spec = _spec(kind, bounds, rules)
    expected = _oracle(spec, events, rules)
    assert _engine_run(spec, events, rules, rng) == expected


DEFERRED = [case for case in CASES if any(b.op in ("lt", "lte", "eq") for b in case[1])]


@pytest.mark.parametrize(("kind", "bounds", "rules"), DEFERRED)
@pytest.mark.parametrize("seed", range(8))
def test_deferred_rules_are_exact_under_disorder_within_the_lateness(
    kind: CorrelationKind, bounds: tuple[Bound, ...], rules: int, seed: int
) -> None:
    """Events arriving up to `lateness` late, across batches, change no deferred decision."""
    rng = random.Random(seed)
    events = [
        Ev(
            minute=rng.randint(0, 240),
            ip=rng.choice(IPS),
            rule=rng.randrange(rules),
            weight=rng.choice([1, 1, 2]),
            value=rng.choice("abcde"),
            line=i + 1,
        )
        for i in range(rng.randint(40, 160))
    ]
    spec = _spec(kind, bounds, rules)
    lateness = 8  # minutes; each event arrives up to this much after its own time
    arrival = sorted(events, key=lambda e: e.minute + rng.uniform(0, lateness))
    engine = CorrelationEngine(
        [spec], lateness=timedelta(minutes=lateness), clock=FixedClock(T0 + timedelta(days=30))
    )
    alerts = []
    for k in range(0, len(arrival), 7):
        batch = arrival[k : k + 7]
        matches = {f"r{r}": _frame([e for e in batch if e.rule == r]) for r in range(rules)}
        alerts += engine.process(matches)
    alerts += engine.flush(T0 + timedelta(days=20))
    assert engine.stats()[0].late == 0
    start = T0.timestamp()
    got = {
        (
            a.entity["source.ip"],
            a.count,
            round((a.first_seen.timestamp() - start) / 60),
            round((a.last_seen.timestamp() - start) / 60),
        )
        for a in alerts
    }
    assert got == _oracle(spec, events, rules)
