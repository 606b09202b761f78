"""Where the alert gate keeps the alerts of a run until the report: in memory, or spilled
to a private temporary SQLite file.

A replay of a big log can raise tens of thousands of alerts with their evidence (about
3 KB of Python objects each): `SpillShelf` keeps them as JSON text on disk, so a run's
memory does not grow with its alerts. Both shelves are a mapping from alert id to alert
in the order alerts were first put (putting an alert with a known id replaces it in
place), and give the alerts in report order: by first event, then rule name, then that
order.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, overload

from vigil.alerts.documents import AlertDocuments, EncodedAlert, encode, with_new_flag
from vigil.alerts.model import Alert

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class AlertShelf(ABC):
    """Read like a `Mapping[str, Alert]`; `put` adds or replaces."""

    # Whether alerts are kept as their JSON text (the gate then encodes each one once).
    spills: bool = False

    @abstractmethod
    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:
        """Keep `alert` (replacing the one with its id, in place)."""

    @abstractmethod
    def __getitem__(self, alert_id: str) -> Alert: ...

    @abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def ordered(self) -> Sequence[Alert]:
        """The alerts in report order."""

    @abstractmethod
    def documents(self, known: Collection[str]) -> Sequence[dict[str, Any]]:
        """`Alert.to_json()` of each alert in report order, with `"new"`: False when its
        id is in `known` (it continues an alert an earlier run stored)."""

    def get(self, alert_id: str) -> Alert | None:
        try:
            return self[alert_id]
        except KeyError:
            return None

    def values(self) -> Iterator[Alert]:
        return (self[k] for k in self)

    def __contains__(self, alert_id: object) -> bool:
        return isinstance(alert_id, str) and self.get(alert_id) is not None


class MemoryShelf(AlertShelf):
    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}

    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:  # noqa: ARG002 - kept as objects
        self._alerts[alert.id] = alert

    def __getitem__(self, alert_id: str) -> Alert:
        return self._alerts[alert_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._alerts)

    def __len__(self) -> int:
        return len(self._alerts)

    def ordered(self) -> list[Alert]:
        return sorted(self._alerts.values(), key=lambda a: (a.first_seen, a.rule_name))

    def documents(self, known: Collection[str]) -> list[dict[str, Any]]:
        out = []
        for alert in self.ordered():
            doc = alert.to_json()
            doc["new"] = alert.id not in known
            out.append(doc)
        return out


class SpillShelf(AlertShelf):
    """Alerts as JSON text in a private temporary SQLite database (deleted when closed)."""

    spills = True

    def __init__(self) -> None:
        # "" opens a private on-disk temporary database: only SQLite's small page cache
        # stays in memory. It is scratch space: no journal, no syncing.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE alerts (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
            " first_us INTEGER NOT NULL, rule_name TEXT NOT NULL, doc TEXT NOT NULL)"
        )
        # Report order, read through this index: rows come one at a time, not sorted
        # all at once in memory.
        self._db.execute("CREATE INDEX report_order ON alerts (first_us, rule_name, seq)")
        self._pending: list[tuple[str, int, str, str]] = []
        self._count = 0

    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:
        text = (encoded or encode(alert)).text
        self._pending.append((alert.id, _micros(alert.first_seen), alert.rule_name, text))

    def _sync(self) -> None:
        """Write the alerts put since the last read, in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO alerts (id, first_us, rule_name, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET first_us = excluded.first_us,"
                " rule_name = excluded.rule_name, doc = excluded.doc",
                pending,
            )
        (self._count,) = self._db.execute("SELECT COUNT(*) FROM alerts").fetchone()

    def __getitem__(self, alert_id: str) -> Alert:
        self._sync()
        row = self._db.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise KeyError(alert_id)
        return Alert.from_json(_loads(row[0]))

    def __iter__(self) -> Iterator[str]:
        self._sync()
        return (row[0] for row in self._db.execute("SELECT id FROM alerts ORDER BY seq"))

    def __len__(self) -> int:
        self._sync()
        return self._count

    def ordered(self) -> Sequence[Alert]:
        return _Ordered(self)

    def documents(self, known: Collection[str]) -> AlertDocuments:
        def texts() -> Iterator[str]:
            for alert_id, text in self._rows("id, doc"):
                yield with_new_flag(text, alert_id not in known)

        return AlertDocuments(len(self), texts)

    def _rows(self, columns: str) -> Iterator[tuple[Any, ...]]:
        """Rows in report order, one at a time."""
        self._sync()
        # Columns are the literal lists of this module, never outside input.
        query = f"SELECT {columns} FROM alerts ORDER BY first_us, rule_name, seq"
        yield from self._db.execute(query)


class _Ordered(Sequence[Alert]):
    """A spill shelf's alerts in report order, decoded while iterated."""

    def __init__(self, shelf: SpillShelf) -> None:
        self._shelf = shelf

    def __len__(self) -> int:
        return len(self._shelf)

    def __iter__(self) -> Iterator[Alert]:
        for (text,) in self._shelf._rows("doc"):
            yield Alert.from_json(_loads(text))

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...
    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("alert index out of range")
        return next(islice(iter(self), index, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _US


def _loads(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc
