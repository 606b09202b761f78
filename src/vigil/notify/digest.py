"""Digests (table `digest_items`): a channel with `digest: 5m` collects its alerts and
sends them as one message when its oldest waiting alert has waited that long.

An item is the alert's JSON message item (see `message.alert_item`), kept per channel
and alert: adding an alert twice keeps one item, and an item stays (tied to the outbox
message it went out in) after its digest closes, so no alert is ever digested twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from vigil.notify.outbox import stamp
from vigil.store.db import StateDB


class DigestBook:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def add(
        self, channel: str, items: Iterable[dict[str, Any]], now: datetime, cur: sqlite3.Cursor
    ) -> int:
        """Put items in the channel's open digest; how many were new."""
        rows = [(channel, item["id"], json.dumps(item), stamp(now)) for item in items]
        before = cur.connection.total_changes
        cur.executemany(
            "INSERT INTO digest_items (channel, alert_id, payload, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(channel, alert_id) DO NOTHING",
            rows,
        )
        return cur.connection.total_changes - before

    def open_digests(self) -> dict[str, tuple[datetime, int]]:
        """Per channel with waiting items: (when its oldest item came, how many wait)."""
        rows = self.db.conn.execute(
            "SELECT channel, MIN(added_at), COUNT(*) FROM digest_items"
            " WHERE outbox_id IS NULL GROUP BY channel"
        ).fetchall()
        return {ch: (datetime.fromisoformat(oldest), int(n)) for ch, oldest, n in rows}

    def take(self, channel: str, cur: sqlite3.Cursor) -> list[dict[str, Any]]:
        """The channel's waiting items, oldest first (inside the caller's transaction)."""
        rows = cur.execute(
            "SELECT payload FROM digest_items WHERE channel = ? AND outbox_id IS NULL"
            " ORDER BY added_at, alert_id",
            (channel,),
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(
        self, channel: str, alert_ids: list[str], outbox_id: int, cur: sqlite3.Cursor
    ) -> None:
        cur.executemany(
            "UPDATE digest_items SET outbox_id = ? WHERE channel = ? AND alert_id = ?"
            " AND outbox_id IS NULL",
            [(outbox_id, channel, a) for a in alert_ids],
        )
