"""Sending notifications beside the pipeline. The pipeline only queues messages (in the
batch's transaction); a thread of their own sends what is due from the outbox, so a slow
or unreachable receiver (a mail server timing out, retries with backoff) never holds up
detection. It has its own connection to the state database: SQLite connections stay on
the thread that opened them, and the outbox's leases keep two senders apart."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from vigil.clock import Clock
from vigil.config.notify import NotifySettings
from vigil.notify.notifier import Notifier
from vigil.store.db import StateDB

log = logging.getLogger("vigil.live")


class DeliveryThread:
    def __init__(self, settings: NotifySettings, db_path: Path, clock: Clock, every: float) -> None:
        self.settings = settings
        self.db_path = db_path
        self.clock = clock
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        db = StateDB(self.db_path)
        try:
            notifier = Notifier(self.settings, db, self.clock)
            while not self._stop.wait(self.every):
                try:
                    report = notifier.deliver_due()
                except Exception:
                    # A fault in one pass must not end delivery: the messages stay in the
                    # outbox for the next pass.
                    log.exception("delivering notifications failed")
                    continue
                for channel, error in report.errors.items():
                    log.warning("notification channel %s: %s", channel, error)
        finally:
            db.close()
