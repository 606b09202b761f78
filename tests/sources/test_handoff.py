"""The byte-bounded hand-off between a listener and the pipeline."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from tests.sources.netutil import Collector
from vigil.sources.handoff import Handoff
from vigil.sources.live import RawChunk, SourceStats

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _chunk(lines: list[str]) -> tuple[RawChunk, int]:
    return RawChunk(source="s", origin="o", lines=lines, received_at=NOW), 0


def test_offers_past_the_budget_are_refused_until_there_is_room():
    """offer() never waits: past the byte budget it says no; an empty queue takes any
    item; delivery frees room and calls on_space."""
    collector = Collector()
    collector.hold()
    freed = threading.Event()
    handoff: Handoff[list[str]] = Handoff("s", collector, _chunk, max_bytes=100, on_space=freed.set)
    handoff.start()
    assert handoff.offer(["big"], 500, 1)  # empty queue: taken, then stuck in deliver
    freed.wait(5)
    assert handoff.offer(["a"], 60, 1)
    assert not handoff.offer(["b"], 60, 1)
    collector.release()
    collector.wait_lines(2)
    assert handoff.offer(["c"], 60, 1)
    collector.wait_lines(3)
    handoff.close(time.monotonic() + 5)
    st = SourceStats(name="s", kind="test")
    handoff.fill(st)
    assert (st.lines, st.bytes, st.dropped) == (3, 620, 0)


def test_close_counts_what_a_stuck_pipeline_never_took():
    """A deliver that never returns: close() gives up at its deadline and counts the
    queued and in-flight messages as dropped."""
    collector = Collector()
    collector.hold()
    handoff: Handoff[list[str]] = Handoff("s", collector, _chunk, max_bytes=1000)
    handoff.start()
    assert handoff.offer(["x"] * 3, 10, 3)
    assert handoff.offer(["y"] * 2, 10, 2)
    handoff.close(time.monotonic() + 0.2)
    assert handoff.dropped == 5
    collector.release()


def test_a_failing_deliver_is_counted_and_the_next_chunk_still_goes():
    """An exception from deliver loses that chunk only, counted as dropped."""
    got: list[RawChunk] = []

    def deliver(chunk: RawChunk) -> None:
        if chunk.lines == ["boom"]:
            raise RuntimeError("pipeline fault")
        got.append(chunk)

    handoff: Handoff[list[str]] = Handoff("s", deliver, _chunk, max_bytes=1000)
    handoff.start()
    handoff.offer(["boom"], 4, 1)
    handoff.offer(["fine"], 4, 1)
    handoff.close(time.monotonic() + 5)
    assert [c.lines for c in got] == [["fine"]]
    assert (handoff.dropped, handoff.failed_chunks) == (1, 1)


def test_put_waits_for_room_until_its_deadline():
    """put() blocks for room, and gives up at the deadline."""
    collector = Collector()
    collector.hold()
    taken = threading.Event()
    handoff: Handoff[list[str]] = Handoff("s", collector, _chunk, max_bytes=10, on_space=taken.set)
    handoff.start()
    handoff.offer(["first"], 10, 1)
    assert taken.wait(5)  # the delivery thread holds "first": the queue is empty
    assert handoff.offer(["queued"], 10, 1)
    assert not handoff.put(["late"], 10, 1, time.monotonic() + 0.1)
    collector.release()
    assert handoff.put(["late"], 10, 1, time.monotonic() + 5)
    assert collector.wait_lines(3) == ["first", "queued", "late"]
    handoff.close(time.monotonic() + 5)


def test_offer_after_close_is_refused():
    """A closed hand-off takes nothing more."""
    handoff: Handoff[list[str]] = Handoff("s", Collector(), _chunk, max_bytes=10)
    handoff.start()
    handoff.close(time.monotonic() + 5)
    assert not handoff.offer(["x"], 1, 1)
