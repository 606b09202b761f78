"""The actions table: records round-trip, one live record per key, expiry and counts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.respond.model import Action, ActionKind, ActionState
from vigil.store.actions import ActionRepository
from vigil.store.db import StateDB

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def block(target: str = "203.0.113.7", **fields: object) -> Action:
    values: dict[str, object] = {
        "ttl": timedelta(hours=1),
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(fields)
    return Action("fw", ActionKind.BLOCK, target, **values)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> ActionRepository:
    return ActionRepository(StateDB(tmp_path / "vigil.db"))


def test_round_trip(repo: ActionRepository) -> None:
    """Every field of a record comes back as it was written."""
    action = block(
        alert_id="a1",
        rule_name="r",
        reason="why",
        actor="operator:bob",
        params={"offence": 2},
        attempts=1,
        last_error="e",
        applied_at=NOW,
        updated_at=NOW,
        state=ActionState.APPLIED,
    )
    repo.insert(action)
    assert repo.get(action.id) == action
    assert repo.get("missing") is None


def test_one_live_record_per_key(repo: ActionRepository) -> None:
    """A second live record for the same responder and target is refused by the index;
    an ended one does not count."""
    first = block()
    repo.insert(first)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        repo.insert(block())
    first.state = ActionState.EXPIRED
    repo.update(first)
    repo.insert(block())
    assert repo.live(first.idempotency_key) is not None


def test_due_lists_live_records_past_expiry(repo: ActionRepository) -> None:
    """due(now) holds live records whose expiry is at or before now, soonest first."""
    soon = block("203.0.113.1", expires_at=NOW + timedelta(minutes=1))
    later = block("203.0.113.2", expires_at=NOW + timedelta(minutes=2))
    ended = block("203.0.113.3", expires_at=NOW, state=ActionState.EXPIRED)
    for a in (later, soon, ended):
        repo.insert(a)
    assert repo.due(NOW) == []
    assert [a.target for a in repo.due(NOW + timedelta(minutes=5))] == [
        "203.0.113.1",
        "203.0.113.2",
    ]


def test_offences_count_extensions_within_the_lookback(repo: ActionRepository) -> None:
    """Each record counts its offences (params.offences) if its latest is recent enough;
    refusals and failures are no offence."""
    old = block(state=ActionState.EXPIRED, created_at=NOW - timedelta(days=3))
    extended = block(params={"offences": 3, "last_offence_at": "2026-11-22T11:00:00.000000+00:00"})
    extended.created_at = NOW - timedelta(days=5)
    refused = block(state=ActionState.REFUSED)
    for a in (old, extended, refused):
        repo.insert(a)
    assert repo.offences(old.idempotency_key, NOW - timedelta(days=1)) == 3
    assert repo.offences(old.idempotency_key, NOW - timedelta(days=4)) == 4


def test_started_since_counts_one_actor_without_refusals(repo: ActionRepository) -> None:
    """The rate limit's count: records of one actor since a time, refusals left out."""
    repo.insert(block("203.0.113.1", actor="policy"))
    repo.insert(block("203.0.113.2", actor="policy", state=ActionState.REFUSED))
    repo.insert(block("203.0.113.3", actor="operator:bob"))
    assert repo.started_since(NOW - timedelta(seconds=1), "policy") == 1
    assert repo.started_since(NOW + timedelta(seconds=1), "policy") == 0


def test_select_filters_and_orders_newest_first(repo: ActionRepository) -> None:
    """select filters by state and responder and lists the newest first."""
    a = block("203.0.113.1")
    b = block("203.0.113.2", created_at=NOW + timedelta(seconds=1), state=ActionState.APPLIED)
    repo.insert(a)
    repo.insert(b)
    assert [x.target for x in repo.select()] == ["203.0.113.2", "203.0.113.1"]
    assert [x.target for x in repo.select(states=[ActionState.APPLIED])] == ["203.0.113.2"]
    assert repo.select(responder="other") == []
    assert [x.id for x in repo.live_on("203.0.113.1")] == [a.id]
