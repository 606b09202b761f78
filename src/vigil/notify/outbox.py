"""The outbox (table `outbox` of vigil.db): every message is written here first and
delivered from here, so it survives a restart of vigil and an outage of the receiver.

    queued   waiting for its next attempt (`next_attempt_at`)
    sending  claimed by a deliverer until `next_attempt_at` (a lease): a deliverer that
             dies mid-send leaves it to be tried again once the lease runs out
    sent     delivered (`sent_at`)
    failed   given up after the configured number of attempts (`last_error` says why)

Claiming happens in one write transaction, so two vigil processes never send the same
message. A message with a `dedup_key` is queued at most once, ever: the key of an alert
message names the channel and the alert.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.clock import Clock
from vigil.config.notify import RetrySettings
from vigil.store.db import StateDB

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATES = (QUEUED, SENDING, SENT, FAILED)
# How long a claimed message is held before another deliverer may take it over.
LEASE = timedelta(minutes=5)

_COLUMNS = (
    "id, channel, kind, subject, body, payload, state, attempts, next_attempt_at,"
    " last_error, dedup_key, created_at, sent_at"
)


def stamp(ts: datetime) -> str:
    """Fixed-width UTC text, so comparing the text compares the times."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    channel: str
    kind: str
    subject: str
    body: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    dedup_key: str | None
    created_at: datetime
    sent_at: datetime | None

    def to_json(self, *, body: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "state": self.state,
            "subject": self.subject,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at) if self.state == QUEUED else None,
            "last_error": self.last_error,
            "created_at": _iso(self.created_at),
            "sent_at": _iso(self.sent_at) if self.sent_at else None,
            "alerts": [a.get("id") for a in self.payload.get("alerts", [])],
        }
        if body:
            doc["body"] = self.body
        return doc


class Outbox:
    def __init__(self, db: StateDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def enqueue(
        self,
        channel: str,
        kind: str,
        subject: str,
        body: str,
        payload: dict[str, Any],
        *,
        dedup_key: str | None = None,
        cur: sqlite3.Cursor | None = None,
    ) -> int | None:
        """Queue a message, due now; its id, or None when `dedup_key` was queued before.
        Pass `cur` to queue inside the caller's transaction."""
        now = stamp(self.clock.now())
        row = (channel, kind, subject, body, json.dumps(payload), QUEUED, now, dedup_key, now)
        sql = (
            "INSERT INTO outbox (channel, kind, subject, body, payload, state, next_attempt_at,"
            " dedup_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(dedup_key) DO NOTHING"
        )
        if cur is not None:
            cur.execute(sql, row)
            return cur.lastrowid if cur.rowcount else None
        with self.db.transaction() as own:
            own.execute(sql, row)
            return own.lastrowid if own.rowcount else None

    def claim_due(
        self,
        *,
        limit: int = 100,
        ignore_backoff: bool = False,
        after_id: int = 0,
        skip: set[str] | None = None,
    ) -> list[OutboxMessage]:
        """Take up to `limit` messages whose time has come (every waiting one with
        `ignore_backoff`), oldest first, with ids above `after_id` and channels not in
        `skip`: each counts one more attempt and is leased to the caller."""
        now = self.clock.now()
        due = stamp(now)
        skipped = sorted(skip or ())
        ready = "state = ?" if ignore_backoff else "(state = ? AND next_attempt_at <= ?)"
        ready_args: tuple[Any, ...] = (QUEUED,) if ignore_backoff else (QUEUED, due)
        # Only "?" marks are formatted into the text.
        sql = (
            f"SELECT id FROM outbox WHERE ({ready} OR (state = ? AND next_attempt_at <= ?))"
            f" AND id > ? AND channel NOT IN ({','.join('?' * len(skipped))})"
            " ORDER BY id LIMIT ?"
        )
        with self.db.transaction() as cur:
            args = (*ready_args, SENDING, due, after_id, *skipped, limit)
            ids = [r[0] for r in cur.execute(sql, args)]
            cur.executemany(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?"
                " WHERE id = ?",
                [(SENDING, stamp(now + LEASE), i) for i in ids],
            )
        return self._by_ids(ids)

    def sent(self, message_id: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET state = ?, sent_at = ? WHERE id = ? AND state = ?",
                (SENT, stamp(self.clock.now()), message_id, SENDING),
            )

    def failed(self, message_id: int, error: str, retry: RetrySettings) -> tuple[str, datetime]:
        """Record a failed attempt: the message waits for its next attempt, or is given up
        when it has had them all. Returns its new state and when it is tried again."""
        now = self.clock.now()
        with self.db.transaction() as cur:
            row = cur.execute("SELECT attempts FROM outbox WHERE id = ?", (message_id,)).fetchone()
            attempts = int(row[0]) if row else 0
            state = FAILED if attempts >= retry.attempts else QUEUED
            retry_at = now + retry.delay(attempts)
            cur.execute(
                "UPDATE outbox SET state = ?, last_error = ?, next_attempt_at = ?"
                " WHERE id = ? AND state = ?",
                (state, error, stamp(retry_at), message_id, SENDING),
            )
        return state, retry_at

    def release(self, message_id: int, until: datetime) -> None:
        """Hand back a claimed message untried: its attempt does not count."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET state = ?, attempts = MAX(attempts - 1, 0),"
                " next_attempt_at = ? WHERE id = ? AND state = ?",
                (QUEUED, stamp(until), message_id, SENDING),
            )

    def postpone(self, channel: str, until: datetime) -> None:
        """Move the channel's waiting messages to `until` at the earliest."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE channel = ? AND state = ?"
                " AND next_attempt_at < ?",
                (stamp(until), channel, QUEUED, stamp(until)),
            )

    def give_up(self, message_id: int, error: str) -> None:
        """Fail a message at once: it can never be delivered (its channel is gone)."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET state = ?, last_error = ? WHERE id = ?",
                (FAILED, error, message_id),
            )

    def retry_failed(self) -> int:
        """Put every given-up message back in the queue with a fresh count of attempts."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET state = ?, attempts = 0, next_attempt_at = ? WHERE state = ?",
                (QUEUED, stamp(self.clock.now()), FAILED),
            )
            return cur.rowcount

    def messages(self, states: tuple[str, ...] = STATES, limit: int = 200) -> list[OutboxMessage]:
        marks = ",".join("?" * len(states))
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state IN ({marks}) ORDER BY id DESC LIMIT ?",
            (*states, limit),
        ).fetchall()
        return [_message(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.db.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        return {state: int(n) for state, n in rows}

    def _by_ids(self, ids: list[int]) -> list[OutboxMessage]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE id IN ({marks}) ORDER BY id", ids
        ).fetchall()
        return [_message(r) for r in rows]


def _message(row: tuple[Any, ...]) -> OutboxMessage:
    return OutboxMessage(
        id=row[0],
        channel=row[1],
        kind=row[2],
        subject=row[3],
        body=row[4],
        payload=json.loads(row[5]),
        state=row[6],
        attempts=row[7],
        next_attempt_at=datetime.fromisoformat(row[8]),
        last_error=row[9],
        dedup_key=row[10],
        created_at=datetime.fromisoformat(row[11]),
        sent_at=datetime.fromisoformat(row[12]) if row[12] else None,
    )


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")
