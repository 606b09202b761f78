"""The alerts table: the columns as JSON and isoformat text, merges, the newest by fingerprint."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.documents import encode, encode_evidence
from vigil.alerts.model import Evidence, EvidenceText
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB

EVIDENCE = (Evidence(T0, "auth.log", 3, 'Failed password for "r\u00f6ot"'),)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDB]:
    state = StateDB(tmp_path / "vigil.db")
    yield state
    state.close()


def _stored(db: StateDB, alert_id: str) -> dict[str, object]:
    cur = db.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


@pytest.mark.parametrize("evidence", [EVIDENCE, EvidenceText(encode_evidence(EVIDENCE), 1)])
def test_columns_hold_json_and_isoformat_text(db: StateDB, evidence: Sequence[Evidence]) -> None:
    """Tags, entity and evidence as json.dumps writes them, times as isoformat, whether
    the evidence came as objects or as text, and whether the gate encoded it or not."""
    a = replace(alert(**{"destination.port": 22}), author="Flor\u00e9al", evidence=evidence)
    b = replace(a, id=a.id[:-1] + "x")
    AlertRepository(db).write([a, b], [], T0, {a.id: encode(a)})
    for stored in (_stored(db, a.id), _stored(db, b.id)):
        assert stored["tags"] == json.dumps(list(a.tags))
        assert stored["entity"] == json.dumps(a.entity)
        assert stored["evidence"] == json.dumps([e.to_json() for e in EVIDENCE])
        assert (stored["first_seen"], stored["last_seen"]) == (
            a.first_seen.isoformat(),
            a.last_seen.isoformat(),
        )
        assert (stored["fingerprint"], stored["author"], stored["count"]) == (
            a.fingerprint,
            "Flor\u00e9al",
            5,
        )


def test_merge_adds_count_and_extends_last_seen(db: StateDB) -> None:
    """A repeat merged into a stored alert adds its count and moves last_seen on."""
    repo = AlertRepository(db)
    first = alert()
    repo.write([first], [], T0)
    repo.write([], [(first.id, alert(at=timedelta(hours=2), count=4))], T0)
    stored = _stored(db, first.id)
    assert (stored["count"], stored["repeats"]) == (9, 1)
    assert stored["last_seen"] == (T0 + timedelta(hours=2, minutes=1)).isoformat()
    assert repo.latest([first.fingerprint, "unknown"]) == {
        first.fingerprint: (first.id, T0 + timedelta(hours=2, minutes=1))
    }
