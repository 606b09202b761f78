"""The Notifier end to end against real receivers: alert mails that say what happened,
digests as one mail, an outage survived through the outbox, nothing sent twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.notify.factories import T0, block, flood, scan, settings
from tests.notify.receivers import free_port, http_receiver, mail_text, smtp_receiver
from vigil.clock import FixedClock
from vigil.errors import UsageError
from vigil.notify.notifier import Notifier
from vigil.notify.outbox import FAILED, QUEUED, SENT
from vigil.respond.model import ActionState
from vigil.store.db import StateDB


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "vigil.db")


def test_alert_mail_says_what_happened(db: StateDB) -> None:
    """The mail of one alert names rule, level, entity, count, first/last seen, the action
    (target, ttl, state) and evidence lines with file:line."""
    alert = flood()
    with smtp_receiver() as smtp:
        notifier = Notifier(settings(mail={"url": smtp.url()}), db, FixedClock(T0))
        assert notifier.alerts([alert], [block(alert)]) == 1
        report = notifier.deliver_due()
        (mail,) = smtp.wait(1)
    assert report.sent == 1 and report.errors == {}
    assert mail["Subject"] == (
        "[vigil] high firewall_connection_flood: source.ip=203.0.113.7, "
        "destination.ip=198.51.100.10 (120 events)"
    )
    body = mail_text(mail)
    for expected in (
        "HIGH  firewall_connection_flood: Connection flood from one source to one destination",
        "count:      120 events",
        "first seen: 2026-11-22 10:00:00 UTC",
        "last seen:  2026-11-22 10:00:59 UTC",
        "- block 203.0.113.7 for 1h via nftables: applied",
        "fw.log:1  2026-11-22 10:00:00 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51510 | 22",
        "evidence (first 5 of 120 events):",
    ):
        assert expected in body, expected
    assert "fw.log:6" not in body


def test_digest_of_three_alerts_is_one_mail(db: StateDB) -> None:
    """Three alerts in one digest period make one mail listing all three, with the counts
    per rule in the subject; nothing leaves before the period is over."""
    clock = FixedClock(T0)
    alerts = [flood("203.0.113.7"), flood("203.0.113.8"), scan()]
    with smtp_receiver() as smtp:
        notifier = Notifier(settings(mail={"url": smtp.url(), "digest": "5m"}), db, clock)
        assert notifier.alerts(alerts[:2]) == 2
        clock.advance(timedelta(minutes=2))
        assert notifier.alerts(alerts[2:]) == 1
        early = notifier.deliver_due()
        assert (early.sent, early.waiting) == (0, 3)
        clock.advance(timedelta(minutes=3))
        report = notifier.deliver_due()
        (mail,) = smtp.wait(1)
        assert notifier.deliver_due().sent == 0
    assert (report.sent, report.waiting) == (1, 0)
    assert mail["Subject"] == "[vigil] 3 alerts: 2 firewall_connection_flood, 1 port_scan"
    body = mail_text(mail)
    assert "raised 3 alerts from 2026-11-22 10:00:00 UTC to 2026-11-22 10:05:00 UTC" in body
    for alert in alerts:
        assert f"alert id:   {alert.id}" in body
    assert len(smtp.mails) == 1


def test_flush_closes_open_digests_at_once(db: StateDB) -> None:
    """flush() (end of `vigil analyze`) sends an open digest before its period is over."""
    with smtp_receiver() as smtp:
        notifier = Notifier(settings(mail={"url": smtp.url(), "digest": "1h"}), db, FixedClock(T0))
        notifier.alerts([flood(), scan()])
        report = notifier.flush()
        (mail,) = smtp.wait(1)
    assert report.sent == 1
    assert mail["Subject"] == "[vigil] 2 alerts: 1 firewall_connection_flood, 1 port_scan"


def test_outage_retried_with_backoff_then_delivered_once(db: StateDB) -> None:
    """With the receiver down the failure is recorded (attempt, error, next attempt after
    the backoff); calls before that time do not retry; once the receiver is back the
    message is delivered exactly once."""
    clock = FixedClock(T0)
    port = free_port()
    notifier = Notifier(settings(hook={"url": f"json://127.0.0.1:{port}/hook"}), db, clock)
    notifier.alerts([flood(), scan()])

    first = notifier.deliver_due()
    assert (first.sent, first.retrying) == (0, 1)
    assert "Connection refused" in first.errors["hook"]
    rows = notifier.outbox.messages()
    tried = [m for m in rows if m.attempts == 1]
    assert len(tried) == 1 and tried[0].state == QUEUED
    assert "Connection refused" in (tried[0].last_error or "")
    assert all(m.next_attempt_at == T0 + timedelta(seconds=30) for m in rows)

    clock.advance(timedelta(seconds=29))
    assert notifier.deliver_due().retrying == 0

    with http_receiver(port) as http:
        clock.advance(timedelta(seconds=1))
        report = notifier.deliver_due()
        posts = http.wait(2)
        assert notifier.deliver_due().sent == 0
    assert report.sent == 2
    assert len(posts) == 2
    assert {m.state for m in notifier.outbox.messages()} == {SENT}


def test_backoff_doubles_then_gives_up(db: StateDB) -> None:
    """Each failure doubles the wait up to max_backoff; after the last attempt the message
    is failed and no longer tried."""
    clock = FixedClock(T0)
    notifier = Notifier(settings(hook={"url": f"json://127.0.0.1:{free_port()}/hook"}), db, clock)
    notifier.alerts([flood()])
    waits = []
    for _ in range(3):
        report = notifier.deliver_due(ignore_backoff=True)
        (message,) = notifier.outbox.messages()
        waits.append(message.next_attempt_at - clock.now())
    assert waits[:2] == [timedelta(seconds=30), timedelta(seconds=60)]
    assert report.failed == 1 and message.state == FAILED and message.attempts == 3
    clock.advance(timedelta(days=1))
    assert notifier.deliver_due().failed == 0


def test_outbox_survives_a_restart(tmp_path: Path) -> None:
    """A message queued by one process is delivered by the next one from vigil.db."""
    path = tmp_path / "vigil.db"
    first = StateDB(path)
    Notifier(settings(hook={"url": "json://127.0.0.1:9/x"}), first, FixedClock(T0)).alerts(
        [flood()]
    )
    first.close()
    with http_receiver() as http:
        spec = settings(hook={"url": f"json://127.0.0.1:{http.port}/hook"})
        report = Notifier(spec, StateDB(path), FixedClock(T0)).deliver_due()
        assert report.sent == 1 and len(http.wait(1)) == 1


def test_same_alert_is_never_queued_twice(db: StateDB) -> None:
    """Queuing an alert again (a repeated analysis of the same file) adds nothing, for
    direct channels and digests alike, even after the first message went out."""
    alert = flood()
    with smtp_receiver() as smtp:
        spec = settings(now={"url": smtp.url()}, later={"url": smtp.url(), "digest": "5m"})
        notifier = Notifier(spec, db, FixedClock(T0))
        assert notifier.alerts([alert]) == 2
        notifier.flush()
        smtp.wait(2)
        assert notifier.alerts([alert]) == 0
        assert notifier.flush().sent == 0
    assert len(smtp.mails) == 2


def test_channels_only_get_what_they_select(db: StateDB) -> None:
    """Each channel queues only the alerts its selector takes."""
    spec = settings(
        high={"url": "json://127.0.0.1:9/a", "min_level": "high"},
        scans={"url": "json://127.0.0.1:9/b", "rules": ["port_*"]},
    )
    notifier = Notifier(spec, db, FixedClock(T0))
    notifier.alerts([flood(), scan()])
    queued = {(m.channel, m.payload["alerts"][0]["rule_name"]) for m in notifier.outbox.messages()}
    assert queued == {("high", "firewall_connection_flood"), ("scans", "port_scan")}


def test_failed_action_is_in_the_message(db: StateDB) -> None:
    """An action that failed shows its state and error in the message."""
    alert = flood()
    action = block(alert, ActionState.FAILED)
    action.last_error = "nft: table vigil not found"
    notifier = Notifier(settings(hook={"url": "json://127.0.0.1:9/x"}), db, FixedClock(T0))
    notifier.alerts([alert], [action])
    (message,) = notifier.outbox.messages()
    assert "via nftables: failed (nft: table vigil not found)" in message.body


def test_broken_operator_template_falls_back_to_default(db: StateDB) -> None:
    """A template that fails on a real alert still lets the message out, with the default
    template and a note saying why."""
    spec = settings(
        hook={
            "url": "json://127.0.0.1:9/x",
            "template": {"body": "{{ alerts[0].entity['source.ip'] }}"},
        }
    )
    notifier = Notifier(spec, db, FixedClock(T0))
    notifier.alerts([scan(), flood(entity={"user.name": "alice"})])
    bodies = {m.payload["alerts"][0]["rule_name"]: m.body for m in notifier.outbox.messages()}
    assert bodies["port_scan"] == "198.51.100.23\n"
    fallback = bodies["firewall_connection_flood"]
    assert fallback.startswith("(vigil: the template of channel hook failed")
    assert "user.name=alice" in fallback


def test_removed_channel_fails_its_messages(db: StateDB) -> None:
    """A queued message whose channel left vigil.yaml is failed with that reason."""
    Notifier(settings(old={"url": "json://127.0.0.1:9/x"}), db, FixedClock(T0)).alerts([flood()])
    report = Notifier(settings(), db, FixedClock(T0)).deliver_due()
    (message,) = Notifier(settings(), db, FixedClock(T0)).outbox.messages()
    assert report.failed == 1 and message.state == FAILED
    assert "no longer in notify.channels" in (message.last_error or "")


def test_test_message_to_unknown_channel_is_usage_error(db: StateDB) -> None:
    """Asking to test a channel that does not exist names the known ones."""
    notifier = Notifier(settings(mail={"url": "json://127.0.0.1:9/x"}), db, FixedClock(T0))
    with pytest.raises(UsageError, match=r"no channel 'nope' .*known: mail"):
        notifier.test("nope")


def test_alerts_join_the_callers_transaction(db: StateDB) -> None:
    """Queued inside a caller's transaction that rolls back, nothing stays queued, and the
    alert can be queued again."""
    notifier = Notifier(settings(hook={"url": "json://127.0.0.1:9/x"}), db, FixedClock(T0))
    alert = flood()

    def batch() -> None:
        with db.transaction() as cur:
            assert notifier.alerts([alert], cur=cur) == 1
            raise RuntimeError("batch failed")

    with pytest.raises(RuntimeError, match="batch failed"):
        batch()
    assert notifier.outbox.messages() == []
    assert notifier.alerts([alert]) == 1
