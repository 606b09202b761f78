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
    # 3: action records (bans, locks, calls) and the append-only audit trail.
    [
        """CREATE TABLE actions (
            id TEXT PRIMARY KEY,
            alert_id TEXT,
            rule_name TEXT,
            responder TEXT NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            ttl_seconds INTEGER,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            reason TEXT,
            actor TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            applied_at TEXT,
            expires_at TEXT,
            reverted_at TEXT
        )""",
        # One live action per responder and target: applying a ban twice holds it once.
        """CREATE UNIQUE INDEX actions_live ON actions(idempotency_key)
            WHERE state IN ('planned', 'pending', 'applied')""",
        "CREATE INDEX actions_state ON actions(state, expires_at)",
        "CREATE INDEX actions_target ON actions(target, created_at)",
        # The live record and the escalation count of a key (the partial index above
        # cannot serve a query whose states are bound parameters).
        "CREATE INDEX actions_key ON actions(idempotency_key, state)",
        "CREATE INDEX actions_actor ON actions(actor, created_at)",  # the rate limit's count
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            action_id TEXT,
            alert_id TEXT,
            target TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        # Whether an alert was answered before (a re-run of the same analysis).
        "CREATE INDEX audit_alert ON audit(alert_id) WHERE alert_id IS NOT NULL",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    ],
    # 4: the notification outbox: a message is delivered from here with retries and
    # backoff, so it survives a restart or an outage of the receiver.
    [
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            dedup_key TEXT UNIQUE,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox(state, next_attempt_at)",
        # An item stays after its digest is sent (outbox_id set), so that the same
        # alert is never put in a second digest of that channel.
        """CREATE TABLE digest_items (
            channel TEXT NOT NULL,
            alert_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            added_at TEXT NOT NULL,
            outbox_id INTEGER REFERENCES outbox(id),
            PRIMARY KEY (channel, alert_id)
        )""",
        "CREATE INDEX digest_items_open ON digest_items(channel, added_at) WHERE outbox_id IS NULL",
    ],
    # 5: live sources: where each input was read up to (committed with the alerts and
    # actions of the lines before it), where a restart re-reads from to rebuild the
    # detection windows still open, and the daemon's state shown by `vigil status`.
    [
        """CREATE TABLE checkpoints (
            source TEXT NOT NULL,
            path TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            offset INTEGER NOT NULL,
            line INTEGER NOT NULL,
            replay_offset INTEGER,
            replay_line INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, path)
        )""",
        """CREATE TABLE live_state (
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ],
]
