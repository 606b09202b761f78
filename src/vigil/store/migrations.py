"""Ordered schema migrations of the state database. Append only: never edit a shipped step.

Each step is a list of SQL statements run in one transaction, after which
`schema_version` is set to the step's number.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the version table itself, and a log of analysis runs with per-input figures.
    [
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            command TEXT NOT NULL,
            lines INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE run_inputs (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            format TEXT,
            lines INTEGER NOT NULL,
            events INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            first_event TEXT,
            last_event TEXT,
            error TEXT
        )""",
        "CREATE INDEX run_inputs_run ON run_inputs(run_id)",
    ],
]
