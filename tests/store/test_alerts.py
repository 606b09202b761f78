"""The alerts table: the columns as JSON and isoformat text, merges, the newest by fingerprint."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.documents import encode, encode_evidence
from vigil.alerts.model import Evidence, EvidenceText
from vigil.errors import StorageError
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


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vigil-alert-writer"]


def test_background_writes_are_committed_in_order_by_flush(db: StateDB) -> None:
    """Inserts and a later merge handed to the writer thread are all in the table after
    flush, on the main connection too, and the thread is gone."""
    repo = AlertRepository(db, background=True)
    first, second = alert(), alert(rule="port_scan")
    repo.write([first], [], T0)
    repo.write([second], [(first.id, alert(at=timedelta(hours=2), count=4))], T0)
    repo.flush()
    assert _writer_threads() == []
    assert (_stored(db, first.id)["count"], _stored(db, second.id)["count"]) == (9, 5)
    repo.write([alert(rule="again")], [], T0)  # a write after a flush starts a thread again
    repo.flush()
    assert db.conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (3,)


def test_a_failed_background_write_is_raised_by_flush_and_stops_the_rest(db: StateDB) -> None:
    """A write the database refuses (a duplicate id) is raised as a StorageError; the
    writes handed over after it are not made."""
    repo = AlertRepository(db, background=True)
    a = alert()
    repo.write([a], [], T0)
    repo.write([a], [], T0)
    repo.write([alert(rule="later")], [], T0)
    with pytest.raises(StorageError, match=r"writing alerts to .* failed: UNIQUE constraint"):
        repo.flush()
    assert db.conn.execute("SELECT rule_name FROM alerts").fetchall() == [("ssh_bruteforce",)]
    repo.flush()  # the error was raised once


def test_background_writes_outlive_a_main_thread_that_never_flushes(tmp_path: Path) -> None:
    """A process whose main thread ends without flush still commits what it handed over."""
    script = f"""
from tests.alerts.factories import alert
from tests.alerts.factories import T0
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB
from pathlib import Path
repo = AlertRepository(StateDB(Path({str(tmp_path / "vigil.db")!r})), background=True)
for n in range(50):
    repo.write([alert(count=n)], [], T0)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=Path.cwd())
    state = StateDB(tmp_path / "vigil.db")
    assert state.conn.execute("SELECT COUNT(*), SUM(count) FROM alerts").fetchone() == (50, 1225)
    state.close()
