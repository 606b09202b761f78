"""The alerts table: insert new alerts, merge repeats, list recent ones.

A replay (`vigil analyze`) can have its writes committed by a thread of their own
(`background=True`): SQLite works without the GIL, so the thread that detects only
builds the rows and hands them over, and the inserts, index updates and WAL writes
(~15 us an alert with its evidence) run beside it.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from vigil.alerts.documents import EncodedAlert, encode
from vigil.alerts.model import Alert
from vigil.errors import StorageError
from vigil.store.db import StateDB

# Bound parameters per query: SQLite allows at least 999.
_SQL_VARS = 500
# Writes waiting for the background thread (each one admission of alerts): bounds
# the memory rows in flight take when the disk is slower than detection.
_QUEUED_WRITES = 4

_INSERT = (
    "INSERT INTO alerts (id, fingerprint, rule_id, rule_name, title, level, tags,"
    " author, entity, count, first_seen, last_seen, evidence, repeats, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
_MERGE = (
    "UPDATE alerts SET count = count + ?, repeats = repeats + 1,"
    " last_seen = MAX(last_seen, ?), updated_at = ? WHERE id = ?"
)
_Rows = list[tuple[object, ...]]


class AlertRepository:
    def __init__(self, db: StateDB, *, background: bool = False) -> None:
        """`background`: `write` hands its rows to a thread that commits them on its own
        connection, in order; `flush` waits for them (and raises a failed write)."""
        self.db = db
        self._writer = _Writer(db.path) if background else None

    def latest(self, fingerprints: Iterable[str]) -> dict[str, tuple[str, datetime]]:
        """Per fingerprint, (id, last_seen) of the newest stored alert that has it."""
        wanted = list(dict.fromkeys(fingerprints))
        out: dict[str, tuple[str, datetime]] = {}
        for i in range(0, len(wanted), _SQL_VARS):
            part = wanted[i : i + _SQL_VARS]
            marks = ",".join("?" * len(part))
            # Only "?" marks are formatted into the text. With MAX(), SQLite takes the bare
            # column `id` from the row holding the maximum.
            rows = self.db.conn.execute(
                "SELECT fingerprint, id, MAX(last_seen) FROM alerts"
                f" WHERE fingerprint IN ({marks}) GROUP BY fingerprint",
                part,
            ).fetchall()
            out.update({fp: (aid, datetime.fromisoformat(seen)) for fp, aid, seen in rows})
        return out

    def write(
        self,
        inserts: list[Alert],
        merges: list[tuple[str, Alert]],
        now: datetime,
        encoded: Mapping[str, EncodedAlert] | None = None,
    ) -> None:
        """New alerts and repeats folded into stored ones, in one transaction. `encoded`
        holds alerts already encoded by id (the gate encodes each alert once)."""
        if not inserts and not merges:
            return
        stamp = now.isoformat()
        rows = [_row(alert, (encoded or {}).get(alert.id), stamp) for alert in inserts]
        updates: _Rows = [
            (r.count, r.last_seen.isoformat(), stamp, alert_id) for alert_id, r in merges
        ]
        if self._writer is not None:
            self._writer.put(rows, updates)
            return
        with self.db.transaction() as cur:
            _execute(cur, rows, updates)

    def flush(self) -> None:
        """Wait until every write is committed (with `background`; else they are)."""
        if self._writer is not None:
            self._writer.flush()

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT id, rule_name, rule_id, title, level, tags, entity, count, first_seen,"
            " last_seen, repeats FROM alerts ORDER BY last_seen DESC LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("id", "rule_name", "rule_id", "title", "level", "tags", "entity", "count")
        out = []
        for row in rows:
            item = dict(zip(keys, row[:8], strict=True))
            item["tags"] = json.loads(item["tags"])
            item["entity"] = json.loads(item["entity"])
            item.update(first_seen=row[8], last_seen=row[9], repeats=row[10])
            out.append(item)
        return out


def _row(alert: Alert, encoded: EncodedAlert | None, stamp: str) -> tuple[object, ...]:
    enc = encoded or encode(alert)
    return (
        alert.id,
        alert.fingerprint,
        alert.rule_id,
        alert.rule_name,
        alert.title,
        alert.level,
        enc.tags,
        alert.author,
        enc.entity,
        alert.count,
        enc.first_seen,
        enc.last_seen,
        enc.evidence,
        stamp,
        stamp,
    )


def _execute(cur: sqlite3.Cursor, rows: _Rows, updates: _Rows) -> None:
    cur.executemany(_INSERT, rows)
    cur.executemany(_MERGE, updates)


class _Writer:
    """A thread committing writes on its own connection, one transaction each, in the
    order put. It runs from the first put to the next flush, or until the main thread
    ends (it then commits what it was given, as the writes in place would have been).
    A failed write stops the writes after it: its error is raised by the next put or
    flush."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._queue: queue.Queue[tuple[_Rows, _Rows] | None] = queue.Queue(_QUEUED_WRITES)
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    def put(self, rows: _Rows, updates: _Rows) -> None:
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vigil-alert-writer")
            self._thread.start()
        self._queue.put((rows, updates))

    def flush(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise StorageError(f"writing alerts to {self._path} failed: {error}") from error

    def _run(self) -> None:
        db: StateDB | None = None
        try:
            while True:
                try:
                    work = self._queue.get(timeout=0.2)
                except queue.Empty:
                    if threading.main_thread().is_alive():
                        continue
                    return
                if work is None:
                    return
                if self._error is not None:
                    continue  # the writes after a failed one are not made
                try:
                    db = db or StateDB(self._path)
                    with db.transaction() as cur:
                        _execute(cur, *work)
                except Exception as e:  # any failure: handed to the thread that waits
                    self._error = e
        finally:
            if db is not None:
                db.close()
