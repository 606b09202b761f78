"""Carrying out decided actions: the responder acts or reverts, the record follows, and
every step is audited in the same transaction as the record's new state.

A responder gets three attempts with a doubling backoff, unless its error says retrying
cannot help or that it already retried on its own (`ResponderError.final`). A failure
(the backend refused, was unreachable, or the responder raised something it should not
have) ends as a `failed` record with its error, never as an exception that would stop
the other actions of the run.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, Literal

from vigil.clock import Clock
from vigil.errors import ConfigError, ResponderError, TargetRefused
from vigil.respond.base import Responder, ResponderContext
from vigil.respond.model import Action, ActionState
from vigil.respond.policy import Policy
from vigil.store.actions import ActionRepository
from vigil.store.audit import AuditLog
from vigil.store.db import StateDB

ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the 2nd attempt; doubled for each further one


class ActionExecutor:
    def __init__(
        self,
        db: StateDB,
        policy: Policy,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`sleep` waits between attempts (tests pass one that moves their clock)."""
        self.db = db
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.records = ActionRepository(db)
        self.audit = AuditLog(db)
        self._responders: dict[str, Responder] = {}

    def responder_for(self, name: str) -> Responder:
        """The responder instance of a configured name, built on first use (so dry-run,
        which never acts, never builds one)."""
        if name not in self._responders:
            ref = self.policy.responder(name)
            factory = ref.factory()
            self._responders[name] = factory(ref.build_settings(), ResponderContext(self.clock))
        return self._responders[name]

    def apply(self, action: Action, actor: str) -> None:
        """Put a planned record in force; afterwards it is applied or failed. Its TTL
        runs from now, not from when it was planned (or approved)."""
        now = self.clock.now()
        if action.ttl is not None:
            action.expires_at = now + action.ttl
        error = self.attempt(action, "act")
        now = self.clock.now()
        action.updated_at = now
        detail: dict[str, Any] = {"attempts": action.attempts}
        if error is None:
            action.state, action.applied_at, action.last_error = ActionState.APPLIED, now, None
            event = "applied"
        else:
            action.state, action.last_error = ActionState.FAILED, error
            event, detail["error"] = "failed", error
        self.save(action, actor, event, detail)

    def refresh(self, action: Action, actor: str) -> None:
        """Act again on an applied record whose expiry moved, so the backend's own
        timeout follows; on failure the earlier ban still holds, so the record stays
        applied with the error kept."""
        error = self.attempt(action, "act")
        action.updated_at, action.last_error = self.clock.now(), error
        if error is None:
            self.records.update(action)
        else:
            self.save(action, actor, "refresh_failed", {"error": error})

    def end(self, action: Action, actor: str, state: ActionState) -> None:
        """End a live record (reverted or expired), reverting it on the backend first
        when it is applied there. ResponderError when that revert fails: the record then
        stays applied, with the error, to be tried again."""
        detail: dict[str, Any] = {}
        if action.state is ActionState.APPLIED:
            try:
                self.responder_for(action.responder)
            except ConfigError as e:
                # Its responder left the config: nothing can revert it any more, and
                # trying on every run would only fill the audit. Said, not hidden.
                action.last_error = detail["not_reverted"] = e.message
            else:
                error = self.attempt(action, "revert")
                if error is not None:
                    action.last_error, action.updated_at = error, self.clock.now()
                    self.save(action, actor, "revert_failed", {"error": error})
                    raise ResponderError(f"reverting {action.target} failed: {error}")
        now = self.clock.now()
        action.state, action.updated_at, action.reverted_at = state, now, now
        self.save(action, actor, str(state), detail)

    def attempt(self, action: Action, verb: Literal["act", "revert"]) -> str | None:
        """Run the responder's act or revert up to ATTEMPTS times: None when it
        succeeded, else the last error."""
        try:
            responder = self.responder_for(action.responder)
        except (ConfigError, ResponderError) as e:
            return e.message
        error: str | None = None
        for attempt in range(1, ATTEMPTS + 1):
            action.attempts += 1
            try:
                if verb == "act":
                    responder.act(action)
                else:
                    responder.revert(action)
            except TargetRefused as e:
                return f"refused by {action.responder}: {e.message}"
            except ResponderError as e:
                error = e.message
                if e.final:
                    return error
            except Exception as e:
                # A bug in one responder must not stop the other actions of the run.
                return f"{type(e).__name__}: {e}"
            else:
                return None
            if attempt < ATTEMPTS:
                self.sleep(BACKOFF * 2 ** (attempt - 1))
        return error

    def record(self, action: Action, cur: sqlite3.Cursor, detail: dict[str, Any]) -> None:
        """Insert a new record and its first audit row (its state) in one transaction."""
        self.records.insert(action, cur)
        self.audit.append(
            action.created_at,
            action.actor,
            str(action.state),
            action_id=action.id,
            alert_id=action.alert_id,
            target=action.target,
            detail={"responder": action.responder, "kind": str(action.kind), **detail},
            cur=cur,
        )

    def save(self, action: Action, actor: str, event: str, detail: dict[str, Any]) -> None:
        """Write a record's new state and the audit row that says why, together."""
        with self.db.transaction() as cur:
            self.records.update(action, cur)
            self.audit.append(
                action.updated_at or self.clock.now(),
                actor,
                event,
                action_id=action.id,
                alert_id=action.alert_id,
                target=action.target,
                detail=detail,
                cur=cur,
            )
