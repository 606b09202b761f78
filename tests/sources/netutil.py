"""Helpers of the live-source tests: a `deliver` that records chunks and lets a test wait
for what it expects, with a deadline instead of sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vigil.sources.live import RawChunk

WAIT = 10.0


class Collector:
    """A `deliver` callable that keeps every chunk; `hold()` makes it block (a stalled
    pipeline) until `release()`."""

    def __init__(self) -> None:
        self.chunks: list[RawChunk] = []
        self._cond = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        # Set once a delivery waits on hold(): the source's queue no longer holds it.
        self.stalled = threading.Event()

    def __call__(self, chunk: RawChunk) -> None:
        if not self._open.is_set():
            self.stalled.set()
        self._open.wait()
        with self._cond:
            self.chunks.append(chunk)
            self._cond.notify_all()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def lines(self) -> list[str]:
        with self._cond:
            return [line for chunk in self.chunks for line in chunk.lines]

    @property
    def rejects(self) -> list[tuple[str, str]]:
        with self._cond:
            return [r for chunk in self.chunks for r in chunk.rejects]

    def wait_for(self, done: Callable[[Collector], bool], timeout: float = WAIT) -> None:
        """Wait until `done(self)` holds; fail the test with what arrived if it never does."""
        with self._cond:
            if self._cond.wait_for(lambda: done(self), timeout):
                return
        lines = self.lines
        raise AssertionError(
            f"gave up after {timeout}s: {len(lines)} lines {lines[-3:]!r}, "
            f"{len(self.rejects)} rejects {self.rejects[-3:]!r}"
        )

    def wait_lines(self, n: int, timeout: float = WAIT) -> list[str]:
        self.wait_for(lambda c: len(c.lines) >= n, timeout)
        return self.lines


def eventually(check: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
    """Poll a condition owned by another thread (stats counters) until a deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s")
        time.sleep(0.01)
