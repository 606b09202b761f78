"""What consumes Batches: the contract, and the rejects writer."""

from __future__ import annotations

from typing import IO, Protocol

import polars as pl

from vigil.parsers.base import LINE, REASON
from vigil.schema.fields import F


class BatchSink(Protocol):
    def consume(self, batch: pl.DataFrame) -> None:
        """Take one Batch of events (conformed to the schema)."""
        ...

    def close(self) -> None:
        """No more batches will come: flush what is held."""
        ...


REJECT_TEXT_BYTES = 1024


class RejectWriter:
    """Writes rejected lines as JSON lines: file, line number, reason, text (cut to 1 KiB)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, origin: str, rejects: pl.DataFrame, lines: pl.DataFrame) -> None:
        if rejects.height == 0:
            return
        rows = rejects.join(lines, on=F.LOG_FILE_LINE, how="left").select(
            pl.lit(origin).alias("file"),
            pl.col(F.LOG_FILE_LINE).alias("line"),
            pl.col(REASON).alias("reason"),
            pl.col(LINE).str.slice(0, REJECT_TEXT_BYTES).alias("text"),
        )
        rows.sort("line").write_ndjson(self._out)
