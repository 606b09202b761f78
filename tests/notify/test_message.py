"""Message items: cleaned alert fields, evidence as file:line, the apprise message type."""

from __future__ import annotations

from tests.notify.factories import block, flood, scan
from vigil.notify.message import alert_item, clean, notify_type


def test_clean_escapes_controls_and_cuts() -> None:
    """Control characters become visible escapes and long values are cut with an ellipsis."""
    assert clean("a\nb\x1b[31m\tc") == "a\\nb\\x1b[31m\\tc"
    assert clean("x" * 300, 10) == "x" * 9 + "…"
    assert clean("plain ünïcode") == "plain ünïcode"


def test_item_has_evidence_with_file_and_line() -> None:
    """An item keeps the first N evidence events, each with file:line and its message."""
    item = alert_item(flood(), evidence=2)
    assert [e["where"] for e in item["evidence"]] == ["fw.log:1", "fw.log:2"]
    assert item["evidence"][0]["message"].startswith("2026-11-22 10:00:00 | 203.0.113.7")
    assert item["evidence_total"] == 8


def test_item_lists_actions_with_target_ttl_state() -> None:
    """The actions of the alert are in its item with target, ttl (seconds) and state."""
    alert = flood()
    (action,) = alert_item(alert, [block(alert)])["actions"]
    assert (action["target"], action["ttl"], action["state"]) == ("203.0.113.7", 3600, "applied")


def test_item_cleans_entity_keys_and_values() -> None:
    """Entity keys and values from logs are cleaned like every other string."""
    item = alert_item(flood(entity={"user.name\n": "x\ry"}))
    assert item["entity"] == {"user.name\\n": "x\\ry"}


def test_notify_type_follows_the_highest_level() -> None:
    """High or critical is a failure, medium a warning, anything else info."""
    assert notify_type([alert_item(scan()), alert_item(flood())]) == "failure"
    assert notify_type([alert_item(scan())]) == "warning"
    assert notify_type([alert_item(flood(level="low"))]) == "info"
