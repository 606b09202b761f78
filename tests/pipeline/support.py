"""What the pipeline tests share."""

from __future__ import annotations

import polars as pl


class CollectSink:
    """A BatchSink that keeps every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[pl.DataFrame] = []
        self.closed = False

    def consume(self, batch: pl.DataFrame) -> None:
        self.batches.append(batch)

    def close(self) -> None:
        self.closed = True
