"""The state database: versioned schema, ordered migrations, backup before upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vigil.errors import StorageError
from vigil.store.db import SCHEMA_VERSION, StateDB

STEP_1 = ["CREATE TABLE a (x INTEGER)"]
STEP_2 = ["CREATE TABLE b (y INTEGER)"]


def test_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    """A new database is created with every migration applied, in WAL mode."""
    db = StateDB(tmp_path / "var" / "vigil.db")
    assert db.version == SCHEMA_VERSION
    assert db.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_upgrade_runs_only_new_steps_and_keeps_a_backup(tmp_path: Path) -> None:
    """An older database gets the missing steps only, after a copy of it is kept."""
    path = tmp_path / "vigil.db"
    old = StateDB(path, migrations=[STEP_1])
    old.conn.execute("INSERT INTO a VALUES (7)")
    old.close()
    new = StateDB(path, migrations=[STEP_1, STEP_2])
    assert new.version == 2
    assert new.conn.execute("SELECT x FROM a").fetchall() == [(7,)]
    new.close()
    with sqlite3.connect(path.with_name("vigil.db.bak-v1")) as backup:
        assert backup.execute("SELECT version FROM schema_version").fetchone() == (1,)


def test_failed_migration_leaves_the_database_at_its_version(tmp_path: Path) -> None:
    """A migration step that fails is rolled back and reported; the version does not move."""
    path = tmp_path / "vigil.db"
    StateDB(path, migrations=[STEP_1]).close()
    with pytest.raises(StorageError, match=r"migrating .* to schema 2 failed"):
        StateDB(path, migrations=[STEP_1, ["CREATE TABLE a (dup INTEGER)"]])
    assert StateDB(path, migrations=[STEP_1]).version == 1


def test_newer_database_is_refused(tmp_path: Path) -> None:
    """A database written by a newer vigil is not touched by an older one."""
    path = tmp_path / "vigil.db"
    StateDB(path, migrations=[STEP_1, STEP_2]).close()
    with pytest.raises(StorageError, match="newer than this vigil knows"):
        StateDB(path, migrations=[STEP_1])


def test_unusable_location(tmp_path: Path) -> None:
    """A state directory that cannot be created is a storage error naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open state database"):
        StateDB(blocker / "vigil.db")


def test_transaction_inside_a_transaction_is_a_savepoint(tmp_path: Path) -> None:
    """An inner transaction commits with the outer one; a failing inner one is undone
    alone, and a failing outer one undoes everything."""
    db = StateDB(tmp_path / "vigil.db", migrations=[STEP_1])

    def insert(value: int, fail: str = "") -> None:
        with db.transaction() as cur:
            cur.execute("INSERT INTO a VALUES (?)", (value,))
            if fail:
                raise ValueError(fail)

    with db.transaction():
        insert(1)
        insert(2)
        with pytest.raises(ValueError, match="inner"):
            insert(3, "inner")
    assert db.conn.execute("SELECT x FROM a ORDER BY x").fetchall() == [(1,), (2,)]

    def outer() -> None:
        with db.transaction():
            insert(4)
            raise ValueError("outer")

    with pytest.raises(ValueError, match="outer"):
        outer()
    assert db.conn.execute("SELECT COUNT(*) FROM a").fetchone() == (2,)
    assert not db.conn.in_transaction
