"""The SQLite state database (`var/vigil.db`, WAL): versioned schema, ordered migrations.

Before migrating an existing database to a newer schema, a copy is kept beside it
(`vigil.db.bak-v<N>`), so a failed upgrade never costs the state.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vigil.errors import StorageError
from vigil.store.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)
DB_NAME = "vigil.db"


class StateDB:
    def __init__(self, path: Path, migrations: list[list[str]] | None = None) -> None:
        self.path = path
        self._migrations = MIGRATIONS if migrations is None else migrations
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as e:
            raise StorageError(f"cannot open state database {path}: {e}") from e
        self.migrate()

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> StateDB:
        return cls(state_dir / DB_NAME)

    @property
    def version(self) -> int:
        row = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if row is None:
            return 0
        (version,) = self.conn.execute("SELECT version FROM schema_version").fetchone()
        return int(version)

    def migrate(self) -> None:
        current = self.version
        target = len(self._migrations)
        if current > target:
            raise StorageError(
                f"{self.path} has schema version {current}, newer than this vigil knows "
                f"({target}); upgrade vigil"
            )
        if current == target:
            return
        if current > 0:
            shutil.copy2(self.path, self.path.with_name(f"{self.path.name}.bak-v{current}"))
        try:
            for number in range(current + 1, target + 1):
                with self.transaction() as cur:
                    if number == 1:
                        cur.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                        cur.execute("INSERT INTO schema_version VALUES (0)")
                    for statement in self._migrations[number - 1]:
                        cur.execute(statement)
                    cur.execute("UPDATE schema_version SET version = ?", (number,))
        except sqlite3.Error as e:
            raise StorageError(f"migrating {self.path} to schema {target} failed: {e}") from e

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One transaction; inside another (a live batch commits its alerts, actions and
        checkpoints as one), a savepoint of it: its writes commit with the outer one."""
        cur = self.conn.cursor()
        if self.conn.in_transaction:
            cur.execute("SAVEPOINT nested")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK TO nested")
                cur.execute("RELEASE nested")
                raise
            else:
                cur.execute("RELEASE nested")
            return
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
