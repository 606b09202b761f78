"""The alerts table: insert new alerts, merge repeats, list recent ones."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from vigil.alerts.documents import EncodedAlert, encode
from vigil.alerts.model import Alert
from vigil.store.db import StateDB

# Bound parameters per query: SQLite allows at least 999.
_SQL_VARS = 500


class AlertRepository:
    def __init__(self, db: StateDB) -> None:
        self.db = db

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
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO alerts (id, fingerprint, rule_id, rule_name, title, level, tags,"
                " author, entity, count, first_seen, last_seen, evidence, repeats, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [_row(alert, (encoded or {}).get(alert.id), stamp) for alert in inserts],
            )
            cur.executemany(
                "UPDATE alerts SET count = count + ?, repeats = repeats + 1,"
                " last_seen = MAX(last_seen, ?), updated_at = ? WHERE id = ?",
                [(r.count, r.last_seen.isoformat(), stamp, alert_id) for alert_id, r in merges],
            )

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
