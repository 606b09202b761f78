"""Micro-batches close at N lines or T ms, and never mix re-read and new lines."""

from __future__ import annotations

import queue
from datetime import UTC, datetime

from vigil.live.batching import BatchCollector
from vigil.sources.live import RawChunk

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def chunk(n: int, replay: bool = False) -> RawChunk:
    return RawChunk("s", "o", [f"line {i}" for i in range(n)], NOW, replay=replay)


def filled(*chunks: RawChunk) -> queue.Queue[RawChunk]:
    q: queue.Queue[RawChunk] = queue.Queue()
    for c in chunks:
        q.put(c)
    return q


def test_closes_at_the_line_count() -> None:
    """A batch takes chunks until it holds at least `lines` lines."""
    c = BatchCollector(filled(chunk(3), chunk(3), chunk(3)), lines=5, ms=200)
    assert [len(x.lines) for x in c.next(0.1)] == [3, 3]
    assert [len(x.lines) for x in c.next(0.1)] == [3]


def test_closes_after_the_time() -> None:
    """With fewer lines than `lines`, a batch closes `ms` after its first chunk."""
    t = [0.0]

    def clock() -> float:
        t[0] += 0.03
        return t[0]

    c = BatchCollector(filled(*[chunk(1) for _ in range(10)]), lines=100, ms=100, monotonic=clock)
    assert 1 <= len(c.next(0.1)) < 10
    assert c.pending() > 0


def test_empty_when_nothing_comes() -> None:
    """No chunk within the wait: an empty batch."""
    assert BatchCollector(filled(), lines=5, ms=10).next(0.01) == []


def test_replay_and_new_lines_are_kept_apart() -> None:
    """The first new chunk after re-read ones waits for the next batch."""
    c = BatchCollector(filled(chunk(1, True), chunk(1, True), chunk(1)), lines=10, ms=50)
    assert [x.replay for x in c.next(0.1)] == [True, True]
    assert c.pending() == 1
    assert [x.replay for x in c.next(0.1)] == [False]
