"""What the rest of vigil calls to tell people about alerts.

    notifier = Notifier(config.notify, db, clock)
    notifier.alerts(new_alerts, actions)   # queue, per channel: a message, or a digest item
    notifier.deliver_due()                 # send what is due (digests whose period ran out,
                                           # messages whose retry time came)
    notifier.flush()                       # end of a finite run: close every open digest too

Queuing and sending are separate on purpose: queuing is a local write that cannot fail
with the network, and whatever cannot be sent now stays in the outbox for the next
`deliver_due()` of this or a later process.
"""

from __future__ import annotations

import hashlib
import html
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigil.alerts.model import Alert
from vigil.clock import Clock
from vigil.config.notify import NotifySettings
from vigil.errors import UsageError
from vigil.notify.channels import Channel, Delivery
from vigil.notify.digest import DigestBook
from vigil.notify.message import alert_item, message_context, notify_type, sample_item
from vigil.notify.outbox import FAILED, Outbox
from vigil.notify.templates import MessageTemplate
from vigil.respond.model import Action
from vigil.store.db import StateDB

# Messages claimed from the outbox at a time (each is leased while it is being sent).
CLAIM = 20


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # given up for good in this pass
    errors: dict[str, str] = field(default_factory=dict)  # channel → its last error
    waiting: int = 0  # alerts in open digests, after this pass

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "errors": self.errors,
            "digest_waiting": self.waiting,
        }


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        db: StateDB,
        clock: Clock,
        *,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.channels = (
            channels
            if channels is not None
            else {name: Channel(name, s) for name, s in settings.channels.items()}
        )
        self.outbox = Outbox(db, clock)
        self.digests = DigestBook(db)

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def alerts(
        self,
        alerts: Iterable[Alert],
        actions: Iterable[Action] = (),
        *,
        cur: sqlite3.Cursor | None = None,
    ) -> int:
        """Queue the alerts for every channel that selects them: a message each, or an item
        of the channel's digest. An alert already queued for a channel is not queued
        again. Returns how many messages and digest items were added. Pass `cur` to queue
        inside the caller's transaction (with the alerts and the checkpoint of a batch)."""
        if cur is None:
            with self.db.transaction() as own:
                return self.alerts(alerts, actions, cur=own)
        by_alert: dict[str, list[Action]] = defaultdict(list)
        for action in actions:
            if action.alert_id is not None:
                by_alert[action.alert_id].append(action)
        alerts = list(alerts)
        added = 0
        now = self.clock.now()
        # Python loops per alert and channel: alerts are the few results of many lines
        # (thousands at most per batch), and each message is rendered on its own.
        for channel in self.channels.values():
            chosen = [a for a in alerts if channel.selects(a)]
            evidence = channel.settings.evidence
            items = [alert_item(a, by_alert.get(a.id, ()), evidence) for a in chosen]
            if channel.settings.digest is not None:
                added += self.digests.add(channel.name, items, now, cur)
                continue
            for item in items:
                subject, body = self._render(channel, [item], digest=False)
                queued = self.outbox.enqueue(
                    channel.name,
                    "alert",
                    subject,
                    body,
                    {"alerts": [item], "notify_type": notify_type([item])},
                    dedup_key=f"alert:{channel.name}:{item['id']}",
                    cur=cur,
                )
                added += queued is not None
        return added

    def deliver_due(self, *, ignore_backoff: bool = False) -> DeliveryReport:
        """Close the digests whose period ran out, then send every message that is due
        (with `ignore_backoff`, also those waiting for a retry)."""
        self._close_digests(force=False)
        return self._deliver(ignore_backoff)

    def flush(self, *, ignore_backoff: bool = False) -> DeliveryReport:
        """A finite run is over (or the operator says so): close every open digest now,
        then deliver."""
        self._close_digests(force=True)
        return self._deliver(ignore_backoff)

    def test(self, name: str) -> tuple[str, Delivery]:
        """Send a made-up alert to one channel now, outside the outbox; (subject, result)."""
        channel = self.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "none configured"
            raise UsageError(f"no channel {name!r} in notify.channels (known: {known})")
        item = sample_item(self.clock.now())
        subject, body = self._render(channel, [item], digest=False, test=True)
        return subject, channel.send(subject, body, "info")

    # -- internals ------------------------------------------------------------------

    def _close_digests(self, *, force: bool) -> None:
        now = self.clock.now()
        for name, (oldest, _) in self.digests.open_digests().items():
            channel = self.channels.get(name)
            if channel is None:
                # The channel left vigil.yaml; its items wait, visible in `notify outbox`.
                continue
            period = channel.settings.digest
            if not force and period is not None and oldest + period > now:
                continue
            with self.db.transaction() as cur:
                items = self.digests.take(name, cur)
                if not items:
                    continue
                subject, body = self._render(channel, items, digest=True, period=(oldest, now))
                ids = [item["id"] for item in items]
                digest_id = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:24]
                message_id = self.outbox.enqueue(
                    name,
                    "digest",
                    subject,
                    body,
                    {"alerts": items, "notify_type": notify_type(items)},
                    dedup_key=f"digest:{name}:{digest_id}",
                    cur=cur,
                )
                if message_id is not None:
                    self.digests.close(name, ids, message_id, cur)

    def _deliver(self, ignore_backoff: bool) -> DeliveryReport:
        report = DeliveryReport()
        down: dict[str, datetime] = {}  # channel → when it is tried again
        after = 0
        while batch := self.outbox.claim_due(
            limit=CLAIM, ignore_backoff=ignore_backoff, after_id=after, skip=set(down)
        ):
            for message in batch:
                after = max(after, message.id)
                if message.channel in down:
                    # Claimed before its channel failed in this pass: back, untried.
                    self.outbox.release(message.id, down[message.channel])
                    continue
                channel = self.channels.get(message.channel)
                if channel is None:
                    error = f"channel {message.channel!r} is no longer in notify.channels"
                    self.outbox.give_up(message.id, error)
                    report.failed += 1
                    continue
                kind = str(message.payload.get("notify_type", "info"))
                result = channel.send(message.subject, message.body, kind)
                if result.ok:
                    self.outbox.sent(message.id)
                    report.sent += 1
                    continue
                error = result.error or "delivery failed"
                state, retry_at = self.outbox.failed(message.id, error, self.settings.retry)
                report.errors[message.channel] = error
                if state == FAILED:
                    report.failed += 1
                    continue
                report.retrying += 1
                # One failure tells about the receiver: the channel's other messages wait
                # as long as this one, instead of each paying a timeout now.
                down[message.channel] = retry_at
                self.outbox.postpone(message.channel, retry_at)
        report.waiting = sum(n for _, n in self.digests.open_digests().values())
        return report

    def _render(
        self,
        channel: Channel,
        items: list[dict[str, Any]],
        *,
        digest: bool,
        period: tuple[datetime, datetime] | None = None,
        test: bool = False,
    ) -> tuple[str, str]:
        context = message_context(
            items, channel=channel.name, digest=digest, period=period, test=test
        )
        try:
            return channel.template.render(context)
        except ValueError as e:
            # The operator's template broke on this message; the message still goes out.
            fmt = channel.settings.format
            subject, body = MessageTemplate("default", fmt).render(context)
            note = f"(vigil: the template of channel {channel.name} failed: {e}; this is "
            note += "the default template)"
            return subject, (html.escape(note) if fmt == "html" else note) + "\n\n" + body
