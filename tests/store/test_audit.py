"""The audit trail is append-only and keeps every decision with who made it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.store.audit import AuditLog
from vigil.store.db import StateDB

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(StateDB(tmp_path / "vigil.db"))


def test_entries_come_back_oldest_first(audit: AuditLog) -> None:
    """Appended rows are read back in order, the newest `limit` of them."""
    for i in range(3):
        audit.append(NOW + timedelta(seconds=i), "policy", f"e{i}", target="203.0.113.7")
    audit.append(NOW, "operator:bob", "refused", action_id="x", detail={"reason": "allowlisted"})
    entries = audit.entries(limit=2)
    assert [e.event for e in entries] == ["e2", "refused"]
    assert entries[1].detail == {"reason": "allowlisted"} and entries[1].actor == "operator:bob"
    assert entries[0].to_json()["at"] == "2026-11-22T12:00:02Z"
    assert [e.event for e in audit.entries(action_id="x")] == ["refused"]
    assert len(audit.entries(limit=None)) == 4


@pytest.mark.parametrize(
    "statement", ["UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"]
)
def test_history_cannot_be_rewritten(audit: AuditLog, statement: str) -> None:
    """The table refuses updates and deletes, whoever tries."""
    audit.append(NOW, "policy", "applied")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        audit.db.conn.execute(statement)
    assert [e.actor for e in audit.entries()] == ["policy"]


def test_actions_by_alert(audit: AuditLog) -> None:
    """The actions decided per alert, for the alerts the audit names."""
    audit.append(NOW, "policy", "planned", action_id="x1", alert_id="a1")
    audit.append(NOW, "policy", "extended", action_id="x2", alert_id="a1")
    audit.append(NOW, "policy", "refused", action_id="x3", alert_id="a2")
    assert audit.actions_by_alert(["a1", "a2", "a3"]) == {"a1": {"x1", "x2"}, "a2": {"x3"}}
