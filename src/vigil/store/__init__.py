"""State: the SQLite state database and the Parquet event store."""

from vigil.store.db import SCHEMA_VERSION, StateDB
from vigil.store.events import ParquetEventStore

__all__ = ["SCHEMA_VERSION", "ParquetEventStore", "StateDB"]
