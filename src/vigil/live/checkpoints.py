"""Source checkpoints (schema step 5): per source and file, the position committed with
the alerts and actions of the lines before it, and the earlier position a restart reads
again from to rebuild the detection windows still open; plus the `live_state` rows.

Writes take the cursor of the batch's transaction, so a checkpoint is never ahead of
(or behind) the alerts of the lines it covers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from vigil.sources.live import Position
from vigil.sources.tail import Resume
from vigil.store.db import StateDB


@dataclass(frozen=True)
class Checkpoint:
    source: str
    commit: Position
    replay: Position | None
    updated_at: str


class CheckpointStore:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def load(self, source: str) -> list[Resume]:
        """The source's checkpoints, newest first (the order TailSource wants)."""
        return [Resume(c.commit, c.replay) for c in self.all() if c.source == source]

    def all(self) -> list[Checkpoint]:
        rows = self.db.conn.execute(
            "SELECT source, path, fingerprint, offset, line, replay_offset, replay_line,"
            " updated_at FROM checkpoints ORDER BY updated_at DESC, source, path"
        ).fetchall()
        out = []
        for source, path, fp, offset, line, r_offset, r_line, updated in rows:
            commit = Position(path, fp, int(offset), int(line))
            replay = None
            if r_offset is not None and r_line is not None:
                replay = Position(path, fp, int(r_offset), int(r_line))
            out.append(Checkpoint(source, commit, replay, updated))
        return out

    def save(
        self,
        cur: sqlite3.Cursor,
        source: str,
        commit: Position,
        replay: Position | None,
        now: datetime,
    ) -> None:
        cur.execute(
            "INSERT INTO checkpoints (source, path, fingerprint, offset, line, replay_offset,"
            " replay_line, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (source, path) DO UPDATE SET fingerprint = excluded.fingerprint,"
            " offset = excluded.offset, line = excluded.line,"
            " replay_offset = excluded.replay_offset, replay_line = excluded.replay_line,"
            " updated_at = excluded.updated_at",
            (
                source,
                commit.path,
                commit.fingerprint,
                commit.offset,
                commit.line,
                replay.offset if replay is not None else None,
                replay.line if replay is not None else None,
                now.isoformat(),
            ),
        )

    def forget(self, cur: sqlite3.Cursor, source: str, path: str) -> None:
        cur.execute("DELETE FROM checkpoints WHERE source = ? AND path = ?", (source, path))

    def put_state(
        self, cur: sqlite3.Cursor | None, key: str, value: str | bytes, now: datetime
    ) -> None:
        (cur or self.db.conn).execute(
            "INSERT INTO live_state (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, now.isoformat()),
        )

    def drop_state(self, cur: sqlite3.Cursor, key: str) -> None:
        cur.execute("DELETE FROM live_state WHERE key = ?", (key,))

    def get_state(self, key: str) -> tuple[str, str] | None:
        """(value, updated_at) of a live_state row holding text."""
        row = self.db.conn.execute(
            "SELECT value, updated_at FROM live_state WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        value = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
        return value, str(row[1])

    def blobs(self, prefix: str) -> dict[str, bytes]:
        """The live_state rows whose key starts with `prefix`, by the rest of the key."""
        rows = self.db.conn.execute(
            "SELECT key, value FROM live_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        ).fetchall()
        return {key[len(prefix) :]: bytes(value) for key, value in rows}
