"""Small alert factories for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.alerts.model import Alert

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def alert(
    rule: str = "ssh_bruteforce",
    at: timedelta = timedelta(0),
    count: int = 5,
    span: timedelta = timedelta(minutes=1),
    **entity: Any,
) -> Alert:
    return Alert(
        rule_id=f"id-{rule}",
        rule_name=rule,
        title=rule.replace("_", " "),
        level="high",
        entity=entity or {"source.ip": "203.0.113.7"},
        count=count,
        first_seen=T0 + at,
        last_seen=T0 + at + span,
    )
