"""The hand-over between a network listener and the pipeline: a queue bounded in bytes,
drained by one delivery thread that calls `deliver`.

A listener must never wait on the pipeline (a blocked event loop stops reading every
socket), so it only `offer`s: a refused offer is the signal to drop (UDP), pause reading
(TCP) or answer 429 (HTTP). `deliver` may block as long as it likes on the delivery
thread; that is where the pipeline's back-pressure lands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from vigil.sources.live import Deliver, RawChunk, SourceStats

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    item: T
    nbytes: int
    messages: int  # what the item stands for: counted as dropped if never delivered


class Handoff(Generic[T]):
    """Items in, RawChunks out through `deliver`, in order, on a thread of its own.

    `convert` turns an item into its chunk and the number of its lines whose invalid
    UTF-8 was replaced; it runs on the delivery thread, so heavy shaping stays off the
    listener's event loop."""

    def __init__(
        self,
        name: str,
        deliver: Deliver,
        convert: Callable[[T], tuple[RawChunk, int]],
        *,
        max_bytes: int,
        on_space: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._deliver = deliver
        self._convert = convert
        self._max_bytes = max_bytes
        self._on_space = on_space
        self._cond = threading.Condition()
        self._items: deque[_Entry[T]] = deque()
        self._queued_bytes = 0
        self._closing = False
        self._busy: _Entry[T] | None = None
        self._thread = threading.Thread(target=self._run, name=f"vigil-deliver-{name}", daemon=True)
        # Counters, written by the delivery thread (and `close`), read by anyone.
        self.lines = 0
        self.bytes = 0
        self.rejected = 0
        self.replaced = 0
        self.dropped = 0
        self.failed_chunks = 0
        self.last_received: datetime | None = None

    def start(self) -> None:
        self._thread.start()

    def offer(self, item: T, nbytes: int, messages: int) -> bool:
        """Queue the item unless that would pass the byte budget; never waits. An empty
        queue takes any item, so one oversized item cannot stall a source for good."""
        with self._cond:
            if self._closing:
                return False
            if self._items and self._queued_bytes + nbytes > self._max_bytes:
                return False
            self._items.append(_Entry(item, nbytes, messages))
            self._queued_bytes += nbytes
            self._cond.notify_all()
            return True

    def put(self, item: T, nbytes: int, messages: int, deadline: float) -> bool:
        """Queue the item, waiting for room until `deadline` (time.monotonic())."""
        with self._cond:
            while self._items and self._queued_bytes + nbytes > self._max_bytes:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
            self._items.append(_Entry(item, nbytes, messages))
            self._queued_bytes += nbytes
            self._cond.notify_all()
            return True

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def close(self, deadline: float) -> None:
        """Deliver what is queued, then stop the thread. What cannot be delivered by the
        deadline (a pipeline that stopped taking chunks) is counted as dropped."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            left = list(self._items)
            self._items.clear()
            self._queued_bytes = 0
            if self._thread.is_alive() and self._busy is not None:
                # `deliver` is still blocked on this one: it may yet go through, but
                # the source cannot vouch for it after stop.
                left.append(self._busy)
        self.dropped += sum(e.messages for e in left)

    def fill(self, stats: SourceStats) -> None:
        stats.lines = self.lines
        stats.bytes = self.bytes
        stats.rejected = self.rejected
        stats.dropped += self.dropped
        stats.last_received = self.last_received
        stats.detail["replaced_utf8"] = str(self.replaced)
        stats.detail["queued_bytes"] = str(self._queued_bytes)
        if self.failed_chunks:
            stats.detail["failed_chunks"] = str(self.failed_chunks)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items:
                    return
                entry = self._items.popleft()
                self._queued_bytes -= entry.nbytes
                self._busy = entry
                self._cond.notify_all()
            if self._on_space is not None:
                self._on_space()
            self._deliver_one(entry)
            with self._cond:
                self._busy = None

    def _deliver_one(self, entry: _Entry[T]) -> None:
        try:
            chunk, replaced = self._convert(entry.item)
            self._deliver(chunk)
        except Exception:
            # The pipeline (or a shaping bug) failed on this chunk: count it lost and
            # keep serving, rather than let one chunk end the source.
            log.exception("source %s: a chunk could not be delivered", self._name)
            self.failed_chunks += 1
            self.dropped += entry.messages
            return
        self.lines += len(chunk.lines)
        self.rejected += len(chunk.rejects)
        self.bytes += entry.nbytes
        self.replaced += replaced
        self.last_received = chunk.received_at
