"""Events as Parquet, partitioned by day: `<state>/events/date=YYYY-MM-DD/part-*.parquet`."""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl

from vigil.errors import StorageError
from vigil.schema.fields import F


class ParquetEventStore:
    """A BatchSink writing each Batch into its day partitions. Columns differ per format;
    readers (DuckDB, Spark) union them by name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._run = uuid.uuid4().hex[:12]
        self._seq = 0
        self.files_written: list[Path] = []
        self.rows_written = 0

    def consume(self, batch: pl.DataFrame) -> None:
        days = batch.with_columns(pl.col(F.TIMESTAMP).dt.date().alias("_day"))
        for (day,), part in days.partition_by("_day", as_dict=True).items():
            directory = self.root / f"date={day}"
            self._seq += 1
            path = directory / f"part-{self._run}-{self._seq:06d}.parquet"
            try:
                directory.mkdir(parents=True, exist_ok=True)
                part.drop("_day").write_parquet(path, compression="zstd")
            except OSError as e:
                raise StorageError(f"cannot write events to {path}: {e}") from e
            self.files_written.append(path)
            self.rows_written += part.height

    def close(self) -> None:
        """Every Batch is written as it comes; nothing is held back."""
