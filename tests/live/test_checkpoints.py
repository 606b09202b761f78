"""Checkpoints and live_state rows: written in the caller's transaction, read back
newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.live.checkpoints import CheckpointStore
from vigil.sources.live import Position
from vigil.sources.tail import Resume
from vigil.store.db import StateDB

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)


def test_save_load_and_forget(tmp_path: Path) -> None:
    """A checkpoint is upserted per (source, path); load gives the source's, newest
    first, with the replay position; forget deletes one."""
    store = CheckpointStore(StateDB(tmp_path / "vigil.db"))
    a = Position("/var/log/a.log", "10:abc", 100, 7)
    b = Position("/var/log/b.log", "10:def", 50, 3)
    with store.db.transaction() as cur:
        store.save(cur, "auth", a, Position(a.path, a.fingerprint, 40, 3), NOW)
        store.save(cur, "auth", b, None, NOW + timedelta(seconds=1))
        store.save(cur, "web", b, None, NOW)
    with store.db.transaction() as cur:
        store.save(cur, "auth", Position(a.path, a.fingerprint, 200, 9), None, NOW + timedelta(2))
    assert store.load("auth") == [
        Resume(Position(a.path, a.fingerprint, 200, 9), None),
        Resume(b, None),
    ]
    with store.db.transaction() as cur:
        store.save(cur, "auth", b, Position(b.path, b.fingerprint, 0, 1), NOW + timedelta(3))
        store.forget(cur, "auth", a.path)
    assert store.load("auth") == [Resume(b, Position(b.path, b.fingerprint, 0, 1))]


def test_live_state_text_and_blobs(tmp_path: Path) -> None:
    """live_state keeps text (the status) and bytes (markers), found by key prefix."""
    store = CheckpointStore(StateDB(tmp_path / "vigil.db"))
    store.put_state(None, "status", '{"state": "running"}', NOW)
    with store.db.transaction() as cur:
        store.put_state(cur, "decided:brute", b"\x00\x01", NOW)
        store.put_state(cur, "decided:scan", b"\x02", NOW)
    with store.db.transaction() as cur:
        store.drop_state(cur, "decided:scan")
    assert store.get_state("status") == ('{"state": "running"}', NOW.isoformat())
    assert store.blobs("decided:") == {"brute": b"\x00\x01"}
    assert store.get_state("nothing") is None
