"""Alerts, actions and channel settings for notification tests (documentation addresses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.alerts.model import Alert, Evidence
from vigil.config.notify import ChannelSettings, NotifySettings
from vigil.respond.model import Action, ActionKind, ActionState

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def flood(source: str = "203.0.113.7", count: int = 120, **kw: Any) -> Alert:
    evidence = tuple(
        Evidence(
            T0 + timedelta(seconds=i),
            "fw.log",
            i + 1,
            f"2026-11-22 10:00:{i:02d} | {source} | 198.51.100.10 | TCP | DENY | 5151{i} | 22",
        )
        for i in range(8)
    )
    fields: dict[str, Any] = {
        "rule_id": "f1000000-0000-4000-8000-000000000001",
        "rule_name": "firewall_connection_flood",
        "title": "Connection flood from one source to one destination",
        "level": "high",
        "entity": {"source.ip": source, "destination.ip": "198.51.100.10"},
        "count": count,
        "first_seen": T0,
        "last_seen": T0 + timedelta(seconds=59),
        "tags": ("attack.impact", "attack.t1498"),
        "evidence": evidence,
    }
    fields.update(kw)
    return Alert(**fields)


def scan(source: str = "198.51.100.23") -> Alert:
    return flood(
        source,
        count=40,
        rule_id="p1000000-0000-4000-8000-000000000002",
        rule_name="port_scan",
        title="Port scan",
        level="medium",
        entity={"source.ip": source},
        tags=("attack.discovery",),
    )


def block(alert: Alert, state: ActionState = ActionState.APPLIED) -> Action:
    return Action(
        responder="nftables",
        kind=ActionKind.BLOCK,
        target=str(alert.entity["source.ip"]),
        ttl=timedelta(hours=1),
        created_at=T0,
        state=state,
        alert_id=alert.id,
        rule_name=alert.rule_name,
    )


def settings(**channels: dict[str, Any]) -> NotifySettings:
    return NotifySettings(
        channels={name: ChannelSettings(**spec) for name, spec in channels.items()},
        retry={"attempts": 3, "backoff": "30s", "max_backoff": "2m"},  # type: ignore[arg-type]
    )
