"""Keeping the backends and the records in step: expiry of what has run out, and
reconciliation of what a firewall holds with what vigil's records say it should.

Reconciliation runs when vigil starts enforcing (and on demand): a ban vigil holds as
applied but the firewall lost (a reboot, a flushed ruleset) is put back for the rest of
its TTL; an element in vigil's own sets that no live record holds (a ban reverted while
vigil could not reach the firewall, a record lost with a database) is removed. It
touches only what the responders own (their table and sets), never other rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.errors import ConfigError, ResponderError
from vigil.respond.executor import ActionExecutor
from vigil.respond.model import Action, ActionState

VIGIL = "vigil"  # the actor of housekeeping


@dataclass
class Drift:
    """One difference between a responder's backend and vigil's records."""

    responder: str
    target: str
    # "missing": vigil holds it, the backend not; "unknown": the reverse;
    # "unreachable": the backend could not be asked.
    kind: str
    fixed: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "responder": self.responder,
            "target": self.target,
            "kind": self.kind,
            "fixed": self.fixed,
            "error": self.error,
        }


def expire(executor: ActionExecutor) -> list[Action]:
    """End every live record whose expiry has come; applied ones are reverted. One that
    cannot be reverted now stays live (audited) and is tried again next time; the
    kernel's own timeout lifts a firewall ban meanwhile."""
    done = []
    for action in executor.records.due(executor.clock.now()):
        try:
            executor.end(action, VIGIL, ActionState.EXPIRED)
        except ResponderError:
            continue
        done.append(action)
    return done


def reconcile(executor: ActionExecutor, responders: list[str]) -> list[Drift]:
    """Compare each named responder's backend with the applied records and repair both
    ways. A responder that cannot say what it holds (check() is None) is left alone."""
    expire(executor)
    drift: list[Drift] = []
    for name in responders:
        try:
            responder = executor.responder_for(name)
            held = responder.check()
        except (ConfigError, ResponderError) as e:
            _note(executor, drift, Drift(name, "*", "unreachable", False, e.message), None)
            continue
        if held is None:
            continue
        applied = {
            a.target: a
            for a in executor.records.select(states=[ActionState.APPLIED], responder=name)
        }
        for target in sorted(applied.keys() - held):
            action = applied[target]
            error = executor.attempt(action, "act")
            _note(executor, drift, Drift(name, target, "missing", error is None, error), action)
        for target in sorted(held - applied.keys()):
            ghost = Action(
                responder=name,
                kind=responder.kind,
                target=target,
                ttl=None,
                created_at=executor.clock.now(),
                actor=VIGIL,
            )
            error = executor.attempt(ghost, "revert")
            _note(executor, drift, Drift(name, target, "unknown", error is None, error), None)
    return drift


def _note(executor: ActionExecutor, drift: list[Drift], item: Drift, action: Action | None) -> None:
    drift.append(item)
    now = executor.clock.now()
    detail: dict[str, Any] = {"responder": item.responder, "drift": item.kind}
    if item.fixed:
        detail["fix"] = {"missing": "re-applied", "unknown": "removed"}[item.kind]
    if item.error is not None:
        detail["error"] = item.error
    with executor.db.transaction() as cur:
        if action is not None:
            action.updated_at, action.last_error = now, item.error
            executor.records.update(action, cur)
        executor.audit.append(
            now,
            VIGIL,
            "drift",
            action_id=action.id if action else None,
            target=item.target,
            detail=detail,
            cur=cur,
        )
