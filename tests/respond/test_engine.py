"""The response engine over a recording responder: planning, enforcing, idempotence,
escalation, refusals, approval, failures, expiry and reconciliation, all audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.factories import alert
from tests.respond.recording import RecordingResponder, install
from vigil.alerts.model import Evidence
from vigil.clock import FixedClock
from vigil.config.models import VigilConfig
from vigil.errors import TargetRefused, UsageError
from vigil.respond.allowlist import Allowlist
from vigil.respond.engine import ResponseEngine
from vigil.respond.model import ActionKind, ActionState
from vigil.respond.policy import Policy
from vigil.store.db import StateDB

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FLOOD = "firewall_connection_flood"


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingResponder]:
    return install(monkeypatch)


def make_engine(
    tmp_path: Path,
    respond: dict[str, Any] | None = None,
    *,
    enforce: bool | None = None,
    responder: dict[str, Any] | None = None,
    clock: FixedClock | None = None,
    allow: tuple[str, ...] = (),
) -> ResponseEngine:
    settings = {"rules": [{"match": {"rule": FLOOD}, "responder": "fw", "ttl": "1h"}]}
    settings.update(respond or {})
    config = VigilConfig.model_validate(
        {"respond": settings, "responders": {"fw": {"type": "recording", **(responder or {})}}}
    )
    clock = clock or FixedClock(NOW)
    policy = Policy.from_config(config)
    allowlist = Allowlist.build([*policy.allowlist, *allow], host=[], env={})

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    db = StateDB(tmp_path / "vigil.db")
    return ResponseEngine(
        db, policy, clock=clock, allowlist=allowlist, enforce=enforce, sleep=sleep
    )


def events(engine: ResponseEngine) -> list[tuple[str, str | None]]:
    return [(e.event, e.target) for e in engine.audit.entries(limit=None)]


def test_dry_run_plans_and_runs_nothing(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """In dry-run an alert becomes a planned record and an audit row; no responder runs."""
    engine = make_engine(tmp_path)
    out = engine.respond([alert(FLOOD)])
    [action] = out.actions
    assert action.state is ActionState.PLANNED
    assert (action.target, action.ttl, action.rule_name) == (
        "203.0.113.7",
        timedelta(hours=1),
        FLOOD,
    )
    assert action.expires_at == NOW + timedelta(hours=1)
    assert recording.calls == []
    assert events(engine) == [("planned", "203.0.113.7")]


def test_unmatched_alert_gets_no_action(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """An alert no rule selects is left alone, and nothing is audited."""
    engine = make_engine(tmp_path)
    assert engine.respond([alert("web_sqli")]).actions == []
    assert events(engine) == []


def test_enforce_applies(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """With enforce the responder acts once and the record is applied, audited twice."""
    engine = make_engine(tmp_path, enforce=True)
    [action] = engine.respond([alert(FLOOD)]).actions
    assert action.state is ActionState.APPLIED and action.applied_at == NOW
    assert recording.calls == [("act", "203.0.113.7")]
    assert engine.records.get(action.id) == action
    assert events(engine) == [("planned", "203.0.113.7"), ("applied", "203.0.113.7")]


def test_mode_enforce_in_config(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """respond.mode: enforce enforces without --apply."""
    engine = make_engine(tmp_path, {"mode": "enforce"})
    assert engine.respond([alert(FLOOD)]).actions[0].state is ActionState.APPLIED


def test_second_alert_extends_never_duplicates(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A new alert on a banned address extends the one live record; no second ban."""
    clock = FixedClock(NOW)
    engine = make_engine(tmp_path, enforce=True, clock=clock)
    [first] = engine.respond([alert(FLOOD)]).actions
    clock.advance(timedelta(minutes=30))
    [second] = engine.respond([alert(FLOOD, at=timedelta(minutes=30))]).actions
    assert second.id == first.id
    assert second.expires_at == NOW + timedelta(minutes=90)
    assert len(engine.records.select()) == 1
    # acted again only so that the backend's timeout follows the new expiry
    assert recording.calls == [("act", "203.0.113.7"), ("act", "203.0.113.7")]
    assert events(engine)[-1] == ("extended", "203.0.113.7")


def test_alerts_sharing_a_ban_list_its_record_once(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """Three alerts about one address in one call: one record in the outcome, as it
    stands after the last (the report of a run lists each record once)."""
    engine = make_engine(tmp_path, enforce=True)
    alerts = [alert(FLOOD, at=timedelta(minutes=m)) for m in (0, 10, 20)]
    [action] = engine.respond(alerts).actions
    assert action.expires_at == NOW + timedelta(hours=1)
    assert len(engine.records.select()) == 1


def test_escalation_gives_repeat_offenders_longer_bans(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """The n-th action on one target within the lookback gets the n-th escalation step."""
    clock = FixedClock(NOW)
    rules = [{"match": {"rule": FLOOD}, "responder": "fw", "escalate": ["10m", "1h", "1d"]}]
    engine = make_engine(tmp_path, {"rules": rules}, enforce=True, clock=clock)
    ttls = []
    for _ in range(4):
        [action] = engine.respond([alert(FLOOD)]).actions
        ttls.append(action.ttl)
        clock.advance(action.ttl + timedelta(seconds=1))
        assert [a.state for a in engine.expire()] == [ActionState.EXPIRED]
    assert ttls == [timedelta(minutes=10), timedelta(hours=1), timedelta(days=1), timedelta(days=1)]


def test_escalation_forgets_after_the_lookback(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """An offence older than respond.lookback no longer counts."""
    clock = FixedClock(NOW)
    rules = [{"match": {"rule": FLOOD}, "responder": "fw", "escalate": ["10m", "1h"]}]
    engine = make_engine(tmp_path, {"rules": rules, "lookback": "1d"}, clock=clock)
    engine.respond([alert(FLOOD)])
    clock.advance(timedelta(days=2))
    engine.expire()
    [action] = engine.respond([alert(FLOOD)]).actions
    assert action.ttl == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("; rm -rf /", "not an address"),
        ("$(id)", "not an address"),
        ("`id`", "not an address"),
        ("203.0.113.7\n203.0.113.8", "not an address"),
        ("1.2.3.4 -j ACCEPT", "not an address"),
        ("198.51.0.0/16", "wider than the widest allowed block"),
        ("192.0.2.55", "allowlisted"),
        ("127.0.0.1", "loopback"),
        (7, "not an address"),
    ],
)
def test_hostile_targets_are_refused_and_audited(
    tmp_path: Path, recording: type[RecordingResponder], value: object, reason: str
) -> None:
    """Hostile or protected alert values become refused records; nothing runs."""
    engine = make_engine(tmp_path, {"allowlist": ["192.0.2.0/24"]}, enforce=True)
    [action] = engine.respond([alert(FLOOD, **{"source.ip": value})]).actions
    assert action.state is ActionState.REFUSED
    assert reason in (action.last_error or "")
    assert "\n" not in action.target
    assert recording.calls == []
    [entry] = engine.audit.entries()
    assert entry.event == "refused" and reason in entry.detail["reason"]


def test_alert_without_the_target_field_is_refused(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A rule whose target field the alert lacks refuses, saying which field."""
    engine = make_engine(tmp_path)
    [action] = engine.respond([alert(FLOOD, **{"user.name": "alice"})]).actions
    assert action.state is ActionState.REFUSED
    assert action.last_error == "the alert has no source.ip"


def test_rate_limit_refuses_beyond_n_per_minute(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """Past rate_limit automatic actions in a minute the rest are refused, audited."""
    clock = FixedClock(NOW)
    engine = make_engine(tmp_path, {"rate_limit": 2}, clock=clock)
    alerts = [alert(FLOOD, **{"source.ip": f"203.0.113.{i}"}) for i in (1, 2, 3)]
    states = [a.state for a in engine.respond(alerts).actions]
    assert states == [ActionState.PLANNED, ActionState.PLANNED, ActionState.REFUSED]
    clock.advance(timedelta(seconds=61))
    [later] = engine.respond([alert(FLOOD, **{"source.ip": "203.0.113.4"})]).actions
    assert later.state is ActionState.PLANNED


def test_approval_waits_until_approved(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """approval: true parks the action as pending; approving it applies it."""
    rules = [{"match": {"rule": FLOOD}, "responder": "fw", "approval": True}]
    engine = make_engine(tmp_path, {"rules": rules}, enforce=True)
    [action] = engine.respond([alert(FLOOD)]).actions
    assert action.state is ActionState.PENDING and recording.calls == []
    approved = engine.approve(action.id, "operator:alice")
    assert approved.state is ActionState.APPLIED
    assert [(e.event, e.actor) for e in engine.audit.entries()][-2:] == [
        ("approved", "operator:alice"),
        ("applied", "operator:alice"),
    ]
    with pytest.raises(UsageError, match="is applied, not pending"):
        engine.approve(action.id, "operator:alice")


def test_failure_is_retried_then_recorded_and_others_go_on(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A backend failing every attempt: 3 attempts with backoff on the clock, state
    failed with the error; the next action still runs."""
    clock = FixedClock(NOW)
    engine = make_engine(tmp_path, enforce=True, responder={"fail": 3}, clock=clock)
    alerts = [alert(FLOOD, **{"source.ip": f"203.0.113.{i}"}) for i in (1, 2)]
    first, second = engine.respond(alerts).actions
    assert first.state is ActionState.FAILED and first.attempts == 3
    assert first.last_error == "backend down (act 203.0.113.1)"
    assert clock.now() == NOW + timedelta(seconds=1.5)  # 0.5 s, then 1 s
    assert second.state is ActionState.APPLIED
    assert ("failed", "203.0.113.1") in events(engine)


def test_transient_failure_succeeds_on_retry(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """One failed attempt then success: applied after 2 attempts."""
    engine = make_engine(tmp_path, enforce=True, responder={"fail": 1})
    [action] = engine.respond([alert(FLOOD)]).actions
    assert (action.state, action.attempts) == (ActionState.APPLIED, 2)


def test_a_final_failure_is_not_retried(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A responder that already retried (or whose failure cannot pass) is tried once."""
    engine = make_engine(tmp_path, enforce=True, responder={"fail": 1, "final": True})
    [action] = engine.respond([alert(FLOOD)]).actions
    assert (action.state, action.attempts) == (ActionState.FAILED, 1)
    assert recording.calls == [("act", "203.0.113.7")]


def test_same_alerts_twice_change_nothing(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """Answering the same alerts again returns their records and changes nothing."""
    engine = make_engine(tmp_path, enforce=True)
    alerts = [alert(FLOOD), alert(FLOOD, **{"source.ip": "bad"})]
    first = engine.respond(alerts).actions
    before = (events(engine), list(recording.calls))
    again = engine.respond(alerts).actions
    assert [(a.id, a.state) for a in again] == [(a.id, a.state) for a in first]
    assert (events(engine), recording.calls) == before


def test_planned_in_dry_run_is_applied_by_an_enforcing_run(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """`--respond` then `--respond --apply` over the same alerts applies the plan."""
    clock = FixedClock(NOW)
    alerts = [alert(FLOOD)]
    [planned] = make_engine(tmp_path, clock=clock).respond(alerts).actions
    clock.advance(timedelta(minutes=5))
    [applied] = make_engine(tmp_path, enforce=True, clock=clock).respond(alerts).actions
    assert applied.id == planned.id and applied.state is ActionState.APPLIED
    assert applied.expires_at == NOW + timedelta(minutes=65)  # the TTL runs from applying


def test_expiry_reverts_applied_and_ends_planned(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """At its expiry an applied ban is reverted on the backend and recorded expired."""
    clock = FixedClock(NOW)
    engine = make_engine(tmp_path, enforce=True, clock=clock)
    engine.respond([alert(FLOOD)])
    clock.advance(timedelta(minutes=59))
    assert engine.expire() == []
    clock.advance(timedelta(minutes=1))
    [expired] = engine.expire()
    assert expired.state is ActionState.EXPIRED and expired.reverted_at == clock.now()
    assert recording.held == {}
    assert events(engine)[-1] == ("expired", "203.0.113.7")
    assert [e.actor for e in engine.audit.entries()][-1] == "vigil"


def test_manual_ban_and_unban(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """An operator's ban is applied with its TTL and reason; unban reverts it."""
    engine = make_engine(tmp_path, enforce=True)
    action = engine.ban("2001:db8::7", ttl=timedelta(minutes=5), actor="operator:bob", reason="x")
    assert (action.state, action.actor, action.reason) == (ActionState.APPLIED, "operator:bob", "x")
    assert engine.ban("2001:db8::7", ttl=timedelta(minutes=1), actor="operator:bob").id == action.id
    [undone] = engine.unban("2001:db8:0::7", "operator:bob")
    assert undone.state is ActionState.REVERTED and recording.held == {}
    assert engine.unban("2001:db8::7", "operator:bob") == []


def test_manual_ban_respects_the_allowlist(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """Manual bans pass the allowlist too: refused, recorded, audited, raised."""
    engine = make_engine(tmp_path, enforce=True, allow=("198.51.100.0/24",))
    with pytest.raises(TargetRefused, match=r"allowlisted \(configured: 198.51.100.0/24\)"):
        engine.ban("198.51.100.9", ttl=timedelta(hours=1), actor="operator:bob")
    [refused] = engine.records.select()
    assert refused.state is ActionState.REFUSED and refused.actor == "operator:bob"
    assert recording.calls == []


def test_revert_by_id(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """`actions revert ID` undoes a live action; an ended one cannot be reverted."""
    engine = make_engine(tmp_path, enforce=True)
    [action] = engine.respond([alert(FLOOD)]).actions
    assert engine.revert(action.id, "operator:bob").state is ActionState.REVERTED
    with pytest.raises(UsageError, match="is reverted: nothing to revert"):
        engine.revert(action.id, "operator:bob")
    with pytest.raises(UsageError, match="no action with id 'nope'"):
        engine.revert("nope", "operator:bob")


def test_reconcile_repairs_both_ways(tmp_path: Path, recording: type[RecordingResponder]) -> None:
    """A ban the backend lost is re-applied; one vigil does not hold is removed; both are
    reported and audited as drift."""
    engine = make_engine(tmp_path, enforce=True)
    engine.respond([alert(FLOOD)])
    recording.held.clear()  # a reboot lost the ban
    stray = engine.ban("203.0.113.99", ttl=timedelta(hours=1), actor="operator:bob")
    engine.records.update(_ended(stray))  # ...and a record that is gone
    drift = engine.reconcile()
    assert [(d.target, d.kind, d.fixed) for d in drift] == [
        ("203.0.113.7", "missing", True),
        ("203.0.113.99", "unknown", True),
    ]
    assert set(recording.held) == {"203.0.113.7"}
    assert [e.detail.get("fix") for e in engine.audit.entries() if e.event == "drift"] == [
        "re-applied",
        "removed",
    ]
    assert engine.reconcile() == []


def test_reconcile_skips_backends_that_cannot_be_asked(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A responder whose check() is None (a webhook) is not reconciled."""
    engine = make_engine(tmp_path, enforce=True, responder={"checkable": False})
    engine.respond([alert(FLOOD)])
    recording.held.clear()
    assert engine.reconcile() == []


def _ended(action: Any) -> Any:
    action.state = ActionState.REVERTED
    return action


def test_call_carries_its_alert_and_keeps_to_the_allowlist(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """A call (webhook, operator command) about an address passes the allowlist like a
    block: the operator's command may well block it. The record keeps the alert (5
    evidence events at most) for the responder to send."""
    rules = [{"match": {"rule": FLOOD}, "responder": "hook"}]
    config = VigilConfig.model_validate(
        {
            "respond": {"rules": rules, "allowlist": ["198.51.100.0/24"], "mode": "enforce"},
            "responders": {"hook": {"type": "recording_call"}},
        }
    )
    policy = Policy.from_config(config)
    engine = ResponseEngine(
        StateDB(tmp_path / "vigil.db"),
        policy,
        clock=FixedClock(NOW),
        allowlist=Allowlist.build(policy.allowlist, host=[], env={}),
    )
    evidence = tuple(Evidence(NOW, "fw.log", n) for n in range(1, 9))
    raised = replace(alert(FLOOD), evidence=evidence)
    protected = alert(FLOOD, **{"source.ip": "198.51.100.9"})
    [action, refused] = engine.respond([raised, protected]).actions
    assert (action.kind, action.state) == (ActionKind.CALL, ActionState.APPLIED)
    assert action.params["alert"]["id"] == raised.id
    assert len(action.params["alert"]["evidence"]) == 5
    assert refused.state is ActionState.REFUSED and "allowlisted" in (refused.last_error or "")
    assert recording.calls == [("act", "203.0.113.7")]


def test_expiry_of_a_ban_whose_responder_left_the_config(
    tmp_path: Path, recording: type[RecordingResponder]
) -> None:
    """An applied ban whose responder is no longer configured expires with a note that
    it could not be reverted, instead of failing on every later run."""
    clock = FixedClock(NOW)
    make_engine(tmp_path, enforce=True, clock=clock).respond([alert(FLOOD)])
    clock.advance(timedelta(hours=2))
    config = VigilConfig.model_validate({"respond": {"rules": []}})
    later = ResponseEngine(
        StateDB(tmp_path / "vigil.db"),
        Policy.from_config(config),
        clock=clock,
        allowlist=Allowlist.build([], host=[], env={}),
    )
    [expired] = later.expire()
    assert expired.state is ActionState.EXPIRED
    assert "no responder named 'fw'" in (expired.last_error or "")
    assert later.audit.entries()[-1].detail == {"not_reverted": expired.last_error}
    assert later.expire() == []
