"""The response engine: alerts and operator commands in, action records out.

    plan       an alert (or `vigil ban`) → validated target → allowlist → rate limit →
               one live record per (responder, kind, target): a new one, or the live one
               extended (its TTL escalated) for a repeat offender
    apply      in enforce mode the responder acts (respond.executor); the record becomes
               applied or failed, and a failure never stops the other actions
    expire     live records past their expiry are reverted (state expired)
    reconcile  the backends are compared with the records and repaired (respond.reconcile)

Every decision is an audit row written in the same transaction as its record. Records
are written before anything runs, so a crash in between leaves a planned record (applied
by the next enforcing run of the same alerts), never a ban nobody knows of.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.alerts.model import Alert
from vigil.clock import Clock
from vigil.config.models import VigilConfig
from vigil.errors import TargetRefused, UsageError
from vigil.respond import reconcile as upkeep
from vigil.respond.allowlist import Allowlist
from vigil.respond.executor import ActionExecutor
from vigil.respond.model import LIVE_STATES, Action, ActionKind, ActionState
from vigil.respond.policy import Policy, PolicyRule, ResponderRef
from vigil.respond.targets import IPNetwork
from vigil.store.db import StateDB
from vigil.store.times import stamp

POLICY = "policy"
RATE_WINDOW = timedelta(minutes=1)
CALL_EVIDENCE = 5  # evidence events a call's record keeps of its alert
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Outcome:
    """What one call of the engine decided: every record it touched, in order."""

    actions: list[Action] = field(default_factory=list)

    @property
    def failed(self) -> list[Action]:
        return [a for a in self.actions if a.state is ActionState.FAILED]


@dataclass(frozen=True)
class _Ask:
    """One request for an action, from a policy rule or an operator."""

    ref: ResponderRef
    kind: ActionKind
    actor: str
    base: dict[str, Any]  # alert_id, rule_name, reason
    params: dict[str, Any]


class ResponseEngine:
    def __init__(
        self,
        db: StateDB,
        policy: Policy,
        *,
        clock: Clock,
        allowlist: Allowlist,
        enforce: bool | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`enforce` overrides the policy's mode (`--apply`)."""
        self.db = db
        self.policy = policy
        self.clock = clock
        self.allowlist = allowlist
        self.enforce = policy.mode == "enforce" if enforce is None else enforce
        self.executor = ActionExecutor(db, policy, clock=clock, sleep=sleep)
        self.records = self.executor.records
        self.audit = self.executor.audit

    @classmethod
    def from_config(
        cls, config: VigilConfig, db: StateDB, clock: Clock, *, enforce: bool | None = None
    ) -> ResponseEngine:
        """The engine of the operator's configuration, with the allowlist completed by
        the host's addresses and the operator's SSH session."""
        policy = Policy.from_config(config)
        return cls(
            db, policy, clock=clock, allowlist=Allowlist.build(policy.allowlist), enforce=enforce
        )

    @property
    def mode(self) -> str:
        return "enforce" if self.enforce else "dry-run"

    # -- alerts ------------------------------------------------------------------------

    def respond(self, alerts: Iterable[Alert]) -> Outcome:
        """Answer alerts by the policy. An alert decided before (an earlier run of the
        same analysis) is not decided again: its records are returned as they stand,
        and in enforce mode what was only planned for it is applied now."""
        out = Outcome()
        alerts = list(alerts)
        decided = self.audit.actions_by_alert([a.id for a in alerts])
        for alert in alerts:
            if alert.id in decided:
                out.actions += self._redo(decided[alert.id])
                continue
            for rule in self.policy.matching(alert):
                out.actions.append(self._decide(alert, rule))
        # Several alerts about one address share its ban (the later ones extend it): each
        # record once, as it stands after the last of them.
        latest = {a.id: a for a in out.actions}
        out.actions = [latest[i] for i in dict.fromkeys(a.id for a in out.actions)]
        return out

    def _redo(self, action_ids: set[str]) -> list[Action]:
        found = [a for a in map(self.records.get, sorted(action_ids)) if a is not None]
        for action in found:
            if self.enforce and action.state is ActionState.PLANNED:
                self.executor.apply(action, POLICY)
        return found

    def _decide(self, alert: Alert, rule: PolicyRule) -> Action:
        ref = self.policy.responder(rule.responder)
        ask = _Ask(
            ref,
            ref.kind(),
            POLICY,
            {"alert_id": alert.id, "rule_name": alert.rule_name, "reason": alert.title},
            {"policy_rule": rule.name, "field": rule.target},
        )
        if ask.kind is ActionKind.CALL:
            # A call tells someone about the alert (the webhook posts it): keep it along.
            doc = alert.to_json()
            ask.params["alert"] = {**doc, "evidence": doc["evidence"][:CALL_EVIDENCE]}
        raw = alert.entity.get(rule.target)
        try:
            if raw is None:
                raise TargetRefused(f"the alert has no {rule.target}")
            target = self._target(raw, ask.kind, rule.ipv6_prefix)
        except TargetRefused as e:
            return self._refuse(ask, _shown(raw), e.message)
        now = self.clock.now()
        with self.db.transaction() as cur:
            key = _key(ref.name, ask.kind, target)
            live = self.records.live(key, cur)
            offence = self.records.offences(key, now - self.policy.lookback, cur) + 1
            ttl = rule.ttl_for(offence)
            detail = {"offence": offence, "ttl": _secs(ttl), "rule": alert.rule_name}
            if live is not None:
                moved = self._hold(live, ttl, POLICY, alert.id, detail, cur)
                live.params["offences"] = int(live.params.get("offences", 1)) + 1
                live.params["last_offence_at"] = stamp(now)
                self.records.update(live, cur)
                action = live
            elif self._rate_limited(now, cur):
                limit = f"rate limit: {self.policy.rate_limit} automatic actions per minute"
                return self._refuse(ask, target, limit, cur)
            else:
                state = ActionState.PENDING if rule.approval else ActionState.PLANNED
                action = self._new(ask, target, ttl, state, {"offence": offence}, cur)
                moved = False
        self._follow_up(action, POLICY, moved)
        return action

    def _rate_limited(self, now: datetime, cur: sqlite3.Cursor) -> bool:
        limit = self.policy.rate_limit
        if limit is None:
            return False
        return self.records.started_since(now - RATE_WINDOW, POLICY, cur) >= limit

    # -- operator commands ---------------------------------------------------------------

    def ban(
        self,
        value: str,
        *,
        ttl: timedelta,
        actor: str,
        reason: str | None = None,
        responder: str | None = None,
    ) -> Action:
        """A manual block. The allowlist holds for operators too: a refusal is recorded,
        audited and raised as TargetRefused. Not rate limited: an operator decides."""
        ref = self.policy.block_responder(responder)
        ask = _Ask(ref, ActionKind.BLOCK, actor, {"reason": reason}, {})
        try:
            target = self._target(value, ActionKind.BLOCK)
        except TargetRefused as e:
            self._refuse(ask, _shown(value), e.message)
            raise
        with self.db.transaction() as cur:
            live = self.records.live(_key(ref.name, ActionKind.BLOCK, target), cur)
            if live is not None:
                detail = {"ttl": _secs(ttl), "reason": reason}
                moved = self._hold(live, ttl, actor, None, detail, cur)
                self.records.update(live, cur)
                action = live
            else:
                action = self._new(ask, target, ttl, ActionState.PLANNED, {}, cur)
                moved = False
        self._follow_up(action, actor, moved)
        return action

    def unban(self, value: str, actor: str) -> list[Action]:
        """Revert every live block of an address or prefix, whichever responder holds
        it. An applied one is reverted on its backend even in dry-run: undoing is safe."""
        target, _ = self.policy.target(value, ActionKind.BLOCK)
        done = []
        for action in self.records.live_on(target):
            if action.kind is ActionKind.BLOCK:
                self.executor.end(action, actor, ActionState.REVERTED)
                done.append(action)
        return done

    def approve(self, action_id: str, actor: str) -> Action:
        action = self._get(action_id)
        if action.state is not ActionState.PENDING:
            raise UsageError(f"action {action_id} is {action.state}, not pending")
        now = self.clock.now()
        try:
            # The allowlist may have grown since the action was planned.
            if action.kind is not ActionKind.LOCK:
                self._target(action.target, action.kind)
        except TargetRefused as e:
            action.state, action.last_error, action.updated_at = ActionState.REFUSED, e.message, now
            self.executor.save(action, actor, "refused", {"reason": e.message})
            raise
        action.state, action.updated_at = ActionState.PLANNED, now
        self.executor.save(action, actor, "approved", {"mode": self.mode})
        if self.enforce:
            self.executor.apply(action, actor)
        return action

    def revert(self, action_id: str, actor: str) -> Action:
        action = self._get(action_id)
        if action.state not in LIVE_STATES:
            raise UsageError(f"action {action_id} is {action.state}: nothing to revert")
        self.executor.end(action, actor, ActionState.REVERTED)
        return action

    def _get(self, action_id: str) -> Action:
        action = self.records.get(action_id)
        if action is None:
            raise UsageError(f"no action with id {action_id!r}")
        return action

    # -- housekeeping ------------------------------------------------------------------

    def expire(self) -> list[Action]:
        return upkeep.expire(self.executor)

    def reconcile(self) -> list[upkeep.Drift]:
        """Only when enforcing: asking a backend what it holds runs a command."""
        return upkeep.reconcile(self.executor, list(self.policy.responders))

    # -- shared steps ------------------------------------------------------------------

    def _target(self, value: object, kind: ActionKind, ipv6_prefix: int | None = None) -> str:
        target, net = self.policy.target(value, kind, ipv6_prefix)
        if net is not None:
            self._check_allowlist(net)
        return target

    def _check_allowlist(self, net: IPNetwork) -> None:
        hit = self.allowlist.protects(net)
        if hit is not None:
            raise TargetRefused(f"{net} is allowlisted ({hit.why}: {hit.network})")

    def _new(
        self,
        ask: _Ask,
        target: str,
        ttl: timedelta,
        state: ActionState,
        params: dict[str, Any],
        cur: sqlite3.Cursor,
    ) -> Action:
        now = self.clock.now()
        action = Action(
            responder=ask.ref.name,
            kind=ask.kind,
            target=target,
            ttl=ttl,
            created_at=now,
            updated_at=now,
            expires_at=now + ttl,
            state=state,
            actor=ask.actor,
            params={**ask.params, **params},
            **ask.base,
        )
        self.executor.record(action, cur, {"mode": self.mode, "ttl": _secs(ttl)})
        return action

    def _hold(
        self,
        live: Action,
        ttl: timedelta,
        actor: str,
        alert_id: str | None,
        detail: dict[str, Any],
        cur: sqlite3.Cursor,
    ) -> bool:
        """A repeat on a live record: it holds until now + ttl if that is later than
        its expiry (True then), and the audit says so; never a second record."""
        now = self.clock.now()
        live.updated_at = now
        moved = live.expires_at is None or now + ttl > live.expires_at
        if moved:
            live.ttl, live.expires_at = ttl, now + ttl
        self.audit.append(
            now,
            actor,
            "extended" if moved else "repeat",
            action_id=live.id,
            alert_id=alert_id,
            target=live.target,
            detail=detail,
            cur=cur,
        )
        return moved

    def _follow_up(self, action: Action, actor: str, moved: bool) -> None:
        """After the decision is committed, in enforce mode: apply what is planned, and
        act again on an applied record whose expiry moved."""
        if not self.enforce:
            return
        if action.state is ActionState.PLANNED:
            self.executor.apply(action, actor)
        elif action.state is ActionState.APPLIED and moved:
            self.executor.refresh(action, actor)

    def _refuse(
        self, ask: _Ask, target: str, reason: str, cur: sqlite3.Cursor | None = None
    ) -> Action:
        now = self.clock.now()
        action = Action(
            responder=ask.ref.name,
            kind=ask.kind,
            target=target,
            ttl=None,
            created_at=now,
            updated_at=now,
            state=ActionState.REFUSED,
            last_error=reason,
            actor=ask.actor,
            params=dict(ask.params),
            **ask.base,
        )
        if cur is not None:
            self.executor.record(action, cur, {"reason": reason})
        else:
            with self.db.transaction() as own:
                self.executor.record(action, own, {"reason": reason})
        return action


def _key(responder: str, kind: ActionKind, target: str) -> str:
    """The idempotency key of a record that would hold `target` (the model computes it)."""
    probe = Action(responder=responder, kind=kind, target=target, ttl=None, created_at=_EPOCH)
    return probe.idempotency_key


def _shown(value: object) -> str:
    """How a refused, possibly hostile value is written down: printable text as it is,
    anything else (newlines, control bytes, non-strings) escaped; bounded either way."""
    if isinstance(value, str) and value.isprintable():
        return value[:120]
    return repr(value)[:120]


def _secs(ttl: timedelta | None) -> int | None:
    return None if ttl is None else int(ttl.total_seconds())
