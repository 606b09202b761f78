"""Micro-batches: chunks from the sources' queue, closed after `lines` lines or `ms`
milliseconds after the batch's first chunk, whichever comes first. Re-read (replay)
chunks and new ones never share a batch: the gate treats them differently."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from vigil.sources.live import RawChunk


class BatchCollector:
    def __init__(
        self,
        chunks: queue.Queue[RawChunk],
        *,
        lines: int,
        ms: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chunks = chunks
        self.lines = lines
        self.seconds = ms / 1000
        self.monotonic = monotonic
        self._held: RawChunk | None = None

    def pending(self) -> int:
        return self.chunks.qsize() + (self._held is not None)

    def next(self, wait: float) -> list[RawChunk]:
        """The next batch; empty when no chunk came within `wait` seconds."""
        first = self._held
        self._held = None
        if first is None:
            try:
                first = (
                    self.chunks.get(timeout=max(wait, 0.0))
                    if wait > 0
                    else self.chunks.get_nowait()
                )
            except queue.Empty:
                return []
        batch = [first]
        count = len(first.lines)
        deadline = self.monotonic() + self.seconds
        while count < self.lines:
            left = deadline - self.monotonic()
            if left <= 0:
                break
            try:
                chunk = self.chunks.get(timeout=left)
            except queue.Empty:
                break
            if chunk.replay != first.replay:
                self._held = chunk
                break
            batch.append(chunk)
            count += len(chunk.lines)
        return batch
