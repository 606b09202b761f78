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
    # 2: alerts, deduplicated by fingerprint (rule + entity): a repeat within the throttle
    # window updates the stored alert instead of adding one.
    [
        """CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_name TEXT NOT NULL,
            title TEXT NOT NULL,
            level TEXT NOT NULL,
            tags TEXT NOT NULL,
            author TEXT,
            entity TEXT NOT NULL,
            count INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            evidence TEXT NOT NULL,
            repeats INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX alerts_fingerprint ON alerts(fingerprint, last_seen)",
        "CREATE INDEX alerts_rule ON alerts(rule_name, last_seen)",
    ],
]
