"""The engine with the real nftables responder in a test namespace: an alert's ban drops
the source's connections, reconciliation restores a ban the firewall lost and removes
one vigil does not hold, and expiry lets the source in again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.alerts.factories import alert
from tests.respond.netns import Listener, NetPair, host_firewall
from vigil.clock import FixedClock
from vigil.config.models import VigilConfig
from vigil.respond.allowlist import Allowlist
from vigil.respond.engine import ResponseEngine
from vigil.respond.model import ActionState
from vigil.respond.policy import Policy
from vigil.store.db import StateDB

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FLOOD = "firewall_connection_flood"


def nft_engine(tmp_path: Path, netns: str, clock: FixedClock) -> ResponseEngine:
    config = VigilConfig.model_validate(
        {
            "respond": {
                "mode": "enforce",
                "rules": [{"match": {"rule": FLOOD}, "responder": "fw", "ttl": "10m"}],
            },
            "responders": {"fw": {"type": "nftables", "netns": netns}},
        }
    )
    allowlist = Allowlist.build([], host=[], env={})
    return ResponseEngine(
        StateDB(tmp_path / "vigil.db"), Policy.from_config(config), clock=clock, allowlist=allowlist
    )


def held(netpair: NetPair) -> str:
    return netpair.firewall_run(["nft", "list", "set", "inet", "vigil", "banned4"])


def test_alert_to_ban_to_expiry(tmp_path: Path, netpair: NetPair, listener: Listener) -> None:
    """Flood alert → applied nftables ban: the source is dropped, a neighbour is not; at
    expiry the ban is reverted and the source connects again. The host is untouched."""
    before = host_firewall()
    clock = FixedClock(NOW)
    engine = nft_engine(tmp_path, netpair.firewall, clock)
    attacker, neighbour = netpair.clients4[:2]
    [action] = engine.respond([alert(FLOOD, **{"source.ip": attacker})]).actions
    assert action.state is ActionState.APPLIED, action.last_error
    assert netpair.dropped(attacker, netpair.firewall4, listener.port)
    assert netpair.connect(neighbour, netpair.firewall4, listener.port)
    assert "timeout 10m" in held(netpair)

    clock.advance(timedelta(minutes=10))
    [expired] = engine.expire()
    assert expired.state is ActionState.EXPIRED
    assert attacker not in held(netpair)
    assert netpair.connect(attacker, netpair.firewall4, listener.port)
    assert host_firewall() == before


def test_reconcile_against_the_kernel(tmp_path: Path, netpair: NetPair, listener: Listener) -> None:
    """After the set is flushed behind vigil's back, reconcile puts the ban back; an
    element no record holds is removed."""
    clock = FixedClock(NOW)
    engine = nft_engine(tmp_path, netpair.firewall, clock)
    attacker, stray = netpair.clients4[0], netpair.clients4[2]
    engine.respond([alert(FLOOD, **{"source.ip": attacker})])
    netpair.firewall_run(["nft", "flush", "set", "inet", "vigil", "banned4"])
    netpair.firewall_run(
        ["nft", "add", "element", "inet", "vigil", "banned4", f"{{ {stray} timeout 1h }}"]
    )
    assert netpair.connect(attacker, netpair.firewall4, listener.port)

    drift = engine.reconcile()
    assert [(d.target, d.kind, d.fixed) for d in drift] == [
        (attacker, "missing", True),
        (stray, "unknown", True),
    ]
    assert netpair.dropped(attacker, netpair.firewall4, listener.port)
    assert netpair.connect(stray, netpair.firewall4, listener.port)
    assert engine.reconcile() == []


def test_hostile_alerts_never_reach_the_firewall(tmp_path: Path, netpair: NetPair) -> None:
    """Alerts whose source is shell text, too wide or allowlisted are refused and audited;
    vigil's table is never even created."""
    engine = nft_engine(tmp_path, netpair.firewall, FixedClock(NOW))
    hostile = ["; rm -rf /", "$(id)", "`id`", "192.0.2.10\n-j ACCEPT", "1.2.3.4 -j ACCEPT"]
    hostile += ["10.0.0.0/8", "127.0.0.1"]
    actions = engine.respond([alert(FLOOD, **{"source.ip": h}) for h in hostile]).actions
    assert {a.state for a in actions} == {ActionState.REFUSED}
    assert [e.event for e in engine.audit.entries()] == ["refused"] * len(hostile)
    assert netpair.firewall_run(["nft", "list", "tables"]) == ""
