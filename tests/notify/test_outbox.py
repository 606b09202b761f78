"""The outbox table: dedup keys, leases between deliverers, attempts and backoff."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.notify.factories import T0
from vigil.clock import FixedClock
from vigil.config.notify import RetrySettings
from vigil.notify.outbox import FAILED, LEASE, QUEUED, SENDING, SENT, Outbox
from vigil.store.db import StateDB

RETRY = RetrySettings(attempts=2, backoff=timedelta(seconds=10), max_backoff=timedelta(minutes=1))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def outbox(tmp_path: Path, clock: FixedClock) -> Outbox:
    return Outbox(StateDB(tmp_path / "vigil.db"), clock)


def _queue(outbox: Outbox, channel: str = "mail", key: str | None = None) -> int | None:
    return outbox.enqueue(channel, "alert", "subject", "body", {"alerts": []}, dedup_key=key)


def test_dedup_key_queues_once(outbox: Outbox) -> None:
    """A second message with the same dedup key is not queued; messages without a key are."""
    assert _queue(outbox, key="alert:mail:1") is not None
    assert _queue(outbox, key="alert:mail:1") is None
    assert _queue(outbox) is not None and _queue(outbox) is not None
    assert outbox.counts() == {QUEUED: 3}


def test_claimed_message_is_leased(outbox: Outbox, clock: FixedClock) -> None:
    """A claimed message is not handed to a second deliverer until its lease runs out; then
    it is, as a deliverer that died mid-send would leave it."""
    _queue(outbox)
    (first,) = outbox.claim_due()
    assert first.attempts == 1
    assert outbox.claim_due() == []
    assert outbox.messages()[0].state == SENDING
    clock.advance(LEASE)
    (again,) = outbox.claim_due()
    assert again.id == first.id and again.attempts == 2


def test_two_processes_never_claim_the_same_message(tmp_path: Path, clock: FixedClock) -> None:
    """Two outboxes on one vigil.db (two vigil processes) split the due messages."""
    path = tmp_path / "vigil.db"
    a, b = Outbox(StateDB(path), clock), Outbox(StateDB(path), clock)
    for _ in range(5):
        _queue(a)
    got_a = {m.id for m in a.claim_due(limit=3)}
    got_b = {m.id for m in b.claim_due(limit=10)}
    assert len(got_a) == 3 and len(got_b) == 2 and not got_a & got_b


def test_failure_waits_then_gives_up(outbox: Outbox, clock: FixedClock) -> None:
    """A failed attempt waits for the backoff; the last allowed attempt fails the message."""
    _queue(outbox)
    (m,) = outbox.claim_due()
    state, retry_at = outbox.failed(m.id, "connection refused", RETRY)
    assert (state, retry_at) == (QUEUED, T0 + timedelta(seconds=10))
    assert outbox.claim_due() == []
    clock.advance(timedelta(seconds=10))
    (m,) = outbox.claim_due()
    state, _ = outbox.failed(m.id, "still refused", RETRY)
    (row,) = outbox.messages()
    assert state == FAILED and row.state == FAILED and row.last_error == "still refused"
    clock.advance(timedelta(days=1))
    assert outbox.claim_due() == []


def test_sent_records_the_time(outbox: Outbox, clock: FixedClock) -> None:
    """A delivered message is sent, with its time, and never claimed again."""
    _queue(outbox)
    (m,) = outbox.claim_due()
    clock.advance(timedelta(seconds=3))
    outbox.sent(m.id)
    (row,) = outbox.messages()
    assert row.state == SENT and row.sent_at == T0 + timedelta(seconds=3)
    clock.advance(LEASE * 2)
    assert outbox.claim_due() == []


def test_release_does_not_count_an_attempt(outbox: Outbox) -> None:
    """A message handed back untried keeps its number of attempts and waits as told."""
    _queue(outbox)
    (m,) = outbox.claim_due()
    outbox.release(m.id, T0 + timedelta(minutes=1))
    (row,) = outbox.messages()
    assert (row.state, row.attempts, row.next_attempt_at) == (QUEUED, 0, T0 + timedelta(minutes=1))


def test_postpone_moves_only_that_channel(outbox: Outbox) -> None:
    """Postponing a channel delays its waiting messages and no other channel's."""
    _queue(outbox, "mail")
    _queue(outbox, "chat")
    outbox.postpone("mail", T0 + timedelta(minutes=5))
    assert [m.channel for m in outbox.claim_due()] == ["chat"]


def test_ignore_backoff_and_retry_failed(outbox: Outbox) -> None:
    """ignore_backoff claims waiting messages now; retry_failed requeues given-up ones with
    fresh attempts."""
    _queue(outbox)
    (m,) = outbox.claim_due()
    outbox.failed(m.id, "down", RETRY)
    (m,) = outbox.claim_due(ignore_backoff=True)
    outbox.failed(m.id, "down", RETRY)
    assert outbox.counts() == {FAILED: 1}
    assert outbox.retry_failed() == 1
    (m,) = outbox.claim_due()
    assert m.attempts == 1


def test_claim_skips_channels_and_earlier_ids(outbox: Outbox) -> None:
    """claim_due leaves out the channels in skip and the ids up to after_id."""
    ids = [_queue(outbox, ch) for ch in ("mail", "chat", "mail")]
    got = outbox.claim_due(after_id=ids[0] or 0, skip={"chat"})
    assert [m.id for m in got] == [ids[2]]
