"""The action record: one thing vigil did, or would do, or was refused to do."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class ActionState(StrEnum):
    PLANNED = "planned"  # decided in dry-run: what vigil would do
    PENDING = "pending"  # waits for `vigil actions approve ID`
    APPLIED = "applied"  # in force on the backend
    FAILED = "failed"  # the backend refused or could not be reached (see last_error)
    REVERTED = "reverted"  # undone by an operator or by vigil
    EXPIRED = "expired"  # its TTL ran out and it was undone
    REFUSED = "refused"  # the policy refused it (allowlist, bad target, rate limit)


# States in which an action still holds (or will hold) its target.
LIVE_STATES = frozenset({ActionState.PLANNED, ActionState.PENDING, ActionState.APPLIED})


class ActionKind(StrEnum):
    BLOCK = "block"  # a network address or prefix is dropped
    LOCK = "lock"  # a user account is locked
    CALL = "call"  # something is told (webhook, operator command); nothing to hold


@dataclass(slots=True)
class Action:
    """`target` is already validated and canonical (see respond.targets): an address
    (`203.0.113.7`), a prefix (`2001:db8:1::/64`) or a user name, never raw log text."""

    responder: str
    kind: ActionKind
    target: str
    ttl: timedelta | None
    created_at: datetime
    state: ActionState = ActionState.PLANNED
    alert_id: str | None = None
    rule_name: str | None = None
    reason: str | None = None
    # Who caused it: "policy" for automatic response, "operator:<login>" for a command.
    actor: str = "policy"
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None
    applied_at: datetime | None = None
    expires_at: datetime | None = None
    reverted_at: datetime | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def idempotency_key(self) -> str:
        """Same responder, kind and target = the same action: applying it twice is once."""
        key = f"{self.responder}\x00{self.kind}\x00{self.target}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "responder": self.responder,
            "kind": str(self.kind),
            "target": self.target,
            "ttl": int(self.ttl.total_seconds()) if self.ttl is not None else None,
            "state": str(self.state),
            "rule_name": self.rule_name,
            "alert_id": self.alert_id,
            "reason": self.reason,
            "actor": self.actor,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": _iso(self.created_at),
            "applied_at": _iso(self.applied_at),
            "expires_at": _iso(self.expires_at),
        }


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None
