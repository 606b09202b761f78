"""The actions table: every action vigil took, would take, or refused, as a record.

At most one record per idempotency key (responder, kind, target) is live (planned,
pending or applied): the table's partial unique index guarantees it, whatever process
writes. Writers that decide from what is live pass the cursor of their transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from vigil.respond.model import LIVE_STATES, Action, ActionKind, ActionState
from vigil.store.db import StateDB
from vigil.store.times import parse_stamp, stamp, stamp_or_none

_COLUMNS = (
    "id, alert_id, rule_name, responder, kind, target, params, ttl_seconds, state, attempts,"
    " last_error, reason, actor, idempotency_key, created_at, updated_at, applied_at,"
    " expires_at, reverted_at"
)
_LIVE = tuple(str(s) for s in sorted(LIVE_STATES))
_LIVE_MARKS = ",".join("?" * len(_LIVE))
# States that count as an earlier offence when a policy escalates (not refusals or failures).
_OFFENCE_STATES = (*_LIVE, str(ActionState.EXPIRED), str(ActionState.REVERTED))

Cursor = sqlite3.Cursor | sqlite3.Connection


class ActionRepository:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def _c(self, cur: Cursor | None) -> Cursor:
        return cur if cur is not None else self.db.conn

    def insert(self, action: Action, cur: Cursor | None = None) -> None:
        """Raises sqlite3.IntegrityError when a live record already holds the key."""
        self._c(cur).execute(
            f"INSERT INTO actions ({_COLUMNS}) VALUES ({','.join('?' * 19)})", _row(action)
        )

    def update(self, action: Action, cur: Cursor | None = None) -> None:
        row = _row(action)
        self._c(cur).execute(
            "UPDATE actions SET alert_id=?, rule_name=?, responder=?, kind=?, target=?,"
            " params=?, ttl_seconds=?, state=?, attempts=?, last_error=?, reason=?, actor=?,"
            " idempotency_key=?, created_at=?, updated_at=?, applied_at=?, expires_at=?,"
            " reverted_at=? WHERE id=?",
            (*row[1:], row[0]),
        )

    def get(self, action_id: str, cur: Cursor | None = None) -> Action | None:
        row = (
            self._c(cur)
            .execute(f"SELECT {_COLUMNS} FROM actions WHERE id = ?", (action_id,))
            .fetchone()
        )
        return _action(row) if row else None

    def live(self, key: str, cur: Cursor | None = None) -> Action | None:
        """The live record of an idempotency key, if any."""
        row = (
            self._c(cur)
            .execute(
                f"SELECT {_COLUMNS} FROM actions WHERE idempotency_key = ?"
                f" AND state IN ({_LIVE_MARKS})",
                (key, *_LIVE),
            )
            .fetchone()
        )
        return _action(row) if row else None

    def live_on(self, target: str, cur: Cursor | None = None) -> list[Action]:
        """Every live record on a target, whatever its responder."""
        rows = (
            self._c(cur)
            .execute(
                f"SELECT {_COLUMNS} FROM actions WHERE target = ? AND state IN ({_LIVE_MARKS})"
                " ORDER BY created_at",
                (target, *_LIVE),
            )
            .fetchall()
        )
        return [_action(r) for r in rows]

    def select(
        self,
        *,
        states: Iterable[ActionState] | None = None,
        kind: ActionKind | None = None,
        responder: str | None = None,
        limit: int | None = None,
        cur: Cursor | None = None,
    ) -> list[Action]:
        """Records newest first, filtered by state, kind and responder."""
        where: list[str] = []
        args: list[Any] = []
        if states is not None:
            wanted = [str(s) for s in states]
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            args += wanted
        if kind is not None:
            where.append("kind = ?")
            args.append(str(kind))
        if responder is not None:
            where.append("responder = ?")
            args.append(responder)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self._c(cur)
            .execute(
                f"SELECT {_COLUMNS} FROM actions {clause} ORDER BY created_at DESC, id LIMIT ?",
                [*args, -1 if limit is None else limit],
            )
            .fetchall()
        )
        return [_action(r) for r in rows]

    def due(self, now: datetime, cur: Cursor | None = None) -> list[Action]:
        """Live records whose expiry has come."""
        rows = (
            self._c(cur)
            .execute(
                f"SELECT {_COLUMNS} FROM actions WHERE state IN ({_LIVE_MARKS})"
                " AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at",
                (*_LIVE, stamp(now)),
            )
            .fetchall()
        )
        return [_action(r) for r in rows]

    def offences(self, key: str, since: datetime, cur: Cursor | None = None) -> int:
        """How many offences the records of a key count since `since` (a record that was
        extended by later alerts counts each of them: params.offences), by the time of
        each record's latest offence (params.last_offence_at, else its creation)."""
        marks = ",".join("?" * len(_OFFENCE_STATES))
        (total,) = (
            self._c(cur)
            .execute(
                "SELECT COALESCE(SUM(COALESCE(json_extract(params, '$.offences'), 1)), 0)"
                f" FROM actions WHERE idempotency_key = ? AND state IN ({marks})"
                " AND COALESCE(json_extract(params, '$.last_offence_at'), created_at) >= ?",
                (key, *_OFFENCE_STATES, stamp(since)),
            )
            .fetchone()
        )
        return int(total)

    def started_since(self, since: datetime, actor: str, cur: Cursor | None = None) -> int:
        """Records (not refusals) an actor created since `since`: what a rate limit counts."""
        (n,) = (
            self._c(cur)
            .execute(
                "SELECT COUNT(*) FROM actions WHERE actor = ? AND created_at >= ? AND state != ?",
                (actor, stamp(since), str(ActionState.REFUSED)),
            )
            .fetchone()
        )
        return int(n)

    def for_alert(self, alert_id: str, cur: Cursor | None = None) -> list[Action]:
        rows = (
            self._c(cur)
            .execute(
                f"SELECT {_COLUMNS} FROM actions WHERE alert_id = ? ORDER BY created_at",
                (alert_id,),
            )
            .fetchall()
        )
        return [_action(r) for r in rows]


def _row(a: Action) -> tuple[Any, ...]:
    return (
        a.id,
        a.alert_id,
        a.rule_name,
        a.responder,
        str(a.kind),
        a.target,
        json.dumps(a.params, default=str, sort_keys=True),
        None if a.ttl is None else int(a.ttl.total_seconds()),
        str(a.state),
        a.attempts,
        a.last_error,
        a.reason,
        a.actor,
        a.idempotency_key,
        stamp(a.created_at),
        stamp(a.updated_at or a.created_at),
        stamp_or_none(a.applied_at),
        stamp_or_none(a.expires_at),
        stamp_or_none(a.reverted_at),
    )


def _action(row: tuple[Any, ...]) -> Action:
    (
        id_,
        alert_id,
        rule_name,
        responder,
        kind,
        target,
        params,
        ttl_seconds,
        state,
        attempts,
        last_error,
        reason,
        actor,
        _key,
        created_at,
        updated_at,
        applied_at,
        expires_at,
        reverted_at,
    ) = row
    return Action(
        id=id_,
        alert_id=alert_id,
        rule_name=rule_name,
        responder=responder,
        kind=ActionKind(kind),
        target=target,
        params=json.loads(params),
        ttl=None if ttl_seconds is None else timedelta(seconds=ttl_seconds),
        state=ActionState(state),
        attempts=attempts,
        last_error=last_error,
        reason=reason,
        actor=actor,
        created_at=datetime.fromisoformat(created_at),
        updated_at=parse_stamp(updated_at),
        applied_at=parse_stamp(applied_at),
        expires_at=parse_stamp(expires_at),
        reverted_at=parse_stamp(reverted_at),
    )
