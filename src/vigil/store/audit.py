"""The audit trail: one row per decision or deed of the response engine, append-only.

The table's triggers refuse UPDATE and DELETE, so nothing here can rewrite history;
this module only appends and reads.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.store.db import StateDB
from vigil.store.times import stamp

# Bound parameters per query: SQLite allows at least 999.
_SQL_VARS = 500


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    event: str
    action_id: str | None
    alert_id: str | None
    target: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "event": self.event,
            "action_id": self.action_id,
            "alert_id": self.alert_id,
            "target": self.target,
            "detail": self.detail,
        }


class AuditLog:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def append(
        self,
        at: datetime,
        actor: str,
        event: str,
        *,
        action_id: str | None = None,
        alert_id: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        cur: sqlite3.Cursor | None = None,
    ) -> None:
        """Add one row; inside the caller's transaction when `cur` is given, so the
        record and its audit row are written together or not at all."""
        (cur or self.db.conn).execute(
            "INSERT INTO audit (at, actor, event, action_id, alert_id, target, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                stamp(at),
                actor,
                event,
                action_id,
                alert_id,
                target,
                json.dumps(detail or {}, default=str, sort_keys=True),
            ),
        )

    def actions_by_alert(self, alert_ids: list[str]) -> dict[str, set[str]]:
        """Per alert that the audit already names, the action ids decided for it: an
        alert present here was answered before (an earlier run of the same analysis)."""
        out: dict[str, set[str]] = {}
        for i in range(0, len(alert_ids), _SQL_VARS):
            part = alert_ids[i : i + _SQL_VARS]
            rows = self.db.conn.execute(
                "SELECT DISTINCT alert_id, action_id FROM audit"
                f" WHERE alert_id IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            for alert_id, action_id in rows:
                ids = out.setdefault(alert_id, set())
                if action_id is not None:
                    ids.add(action_id)
        return out

    def entries(self, *, limit: int | None = 100, action_id: str | None = None) -> list[AuditEntry]:
        """The newest `limit` rows (all with None), oldest first."""
        where, args = ("WHERE action_id = ?", [action_id]) if action_id else ("", [])
        rows = self.db.conn.execute(
            "SELECT seq, at, actor, event, action_id, alert_id, target, detail FROM audit"
            f" {where} ORDER BY seq DESC LIMIT ?",
            [*args, -1 if limit is None else limit],
        ).fetchall()
        return [
            AuditEntry(
                seq=seq,
                at=datetime.fromisoformat(at),
                actor=actor,
                event=event,
                action_id=action_id_,
                alert_id=alert_id,
                target=target,
                detail=json.loads(detail),
            )
            for seq, at, actor, event, action_id_, alert_id, target, detail in reversed(rows)
        ]
