"""What a message says, as plain JSON: one *item* per alert (with the actions taken on
it), and the template context built from a list of items.

Items are JSON so that a digest can hold them in `digest_items` and render them later,
possibly in another process. Alert fields come from log lines: every string is cleaned
of control characters and cut to a length here, before any template sees it.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.alerts.model import Alert, Evidence
from vigil.config.notify import LEVEL_RANK
from vigil.respond.model import Action, ActionKind, ActionState

MAX_FIELD = 200
MAX_EVIDENCE_LINE = 300


def clean(value: object, limit: int = MAX_FIELD) -> str:
    """One printable line: control characters shown as escapes (a newline in a user name
    must not forge a line of the mail), cut to `limit` characters."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean(k): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean(value)


def _evidence(ev: Evidence) -> dict[str, Any]:
    where = None
    if ev.path is not None:
        where = clean(ev.path) + (f":{ev.line}" if ev.line is not None else "")
    return {
        "timestamp": _iso(ev.timestamp),
        "where": where,
        "message": clean(ev.message, MAX_EVIDENCE_LINE) if ev.message is not None else None,
    }


def _action(action: Action) -> dict[str, Any]:
    doc = action.to_json()
    keep = ("responder", "kind", "target", "ttl", "state", "expires_at", "last_error", "reason")
    return {k: _cleaned(doc[k]) for k in keep}


def alert_item(alert: Alert, actions: Iterable[Action] = (), evidence: int = 5) -> dict[str, Any]:
    """The JSON item of one alert, with the actions taken on it and its first evidence."""
    return {
        "id": alert.id,
        "rule_name": clean(alert.rule_name),
        "rule_id": clean(alert.rule_id),
        "title": clean(alert.title),
        "level": clean(alert.level),
        "tags": [clean(t) for t in alert.tags],
        "entity": _cleaned(alert.entity),
        "count": alert.count,
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "evidence": [_evidence(e) for e in alert.evidence[:evidence]],
        "evidence_total": len(alert.evidence),
        "actions": [_action(a) for a in actions],
    }


def message_context(
    items: list[dict[str, Any]],
    *,
    channel: str,
    digest: bool,
    period: tuple[datetime, datetime] | None = None,
    test: bool = False,
) -> dict[str, Any]:
    """What templates see. `rules` is [(rule_name, alerts)] most frequent first."""
    per_rule = Counter(item["rule_name"] for item in items)
    ordered = sorted(items, key=lambda i: (i["first_seen"], i["rule_name"]))
    return {
        "alerts": ordered,
        "rules": sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0])),
        "levels": dict(Counter(item["level"] for item in items)),
        "top_level": top_level(items),
        "digest": digest,
        "period_start": _iso(period[0]) if period else None,
        "period_end": _iso(period[1]) if period else None,
        "channel": channel,
        "host": clean(socket.gethostname()),
        "test": test,
    }


def top_level(items: Iterable[Mapping[str, Any]]) -> str:
    return max((str(i["level"]) for i in items), key=lambda v: LEVEL_RANK.get(v, 0), default="")


def notify_type(items: Iterable[Mapping[str, Any]]) -> str:
    """Apprise's message type (colour/icon on chat services) from the highest level."""
    rank = LEVEL_RANK.get(top_level(items), 0)
    return "failure" if rank >= 4 else "warning" if rank == 3 else "info"


def sample_item(now: datetime) -> dict[str, Any]:
    """A made-up alert for `vigil notify test` and for trying templates at config load;
    it uses documentation addresses only."""
    start = now - timedelta(minutes=1)
    alert = Alert(
        rule_id="vigil-notify-test",
        rule_name="vigil_notify_test",
        title="Test message from vigil (not an attack)",
        level="informational",
        entity={"source.ip": "203.0.113.7", "destination.ip": "198.51.100.10"},
        count=3,
        first_seen=start,
        last_seen=now,
        tags=("vigil.test",),
        evidence=(
            Evidence(start, "fw.log", 1, "203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22"),
        ),
    )
    action = Action(
        responder="nftables",
        kind=ActionKind.BLOCK,
        target="203.0.113.7",
        ttl=timedelta(hours=1),
        created_at=now,
        state=ActionState.PLANNED,
        alert_id=alert.id,
        rule_name=alert.rule_name,
    )
    return alert_item(alert, [action])


def _iso(ts: datetime) -> str:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.isoformat().replace("+00:00", "Z")
