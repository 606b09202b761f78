"""The run loop of `vigil run`.

    sources ──RawChunk──▶ bounded queue ──micro-batch──▶ parse (analyze's parse path)
        ──▶ DetectionStage(live=True) ──▶ LiveGate ──▶ response engine, notifier
        ──▶ one SQLite transaction: alerts, actions, outbox, checkpoints

Exactly once across restarts: a batch's alerts, actions and source checkpoints commit
together, so after a crash the sources resume exactly after the last committed line.
The windows that were open then are rebuilt by reading again from each file's replay
position (see live.replay); the alerts of re-read lines were committed before and are
dropped (see live.gate). Nothing of the detection state is serialised.

A timer (`live.tick`) runs even when no line comes: when every source has caught up it
moves the correlation windows to the clock (episodes end, deferred alerts are decided),
expires actions whose TTL ran out, and writes the status `vigil status` shows. While a
source is behind (a backlog after a restart), windows move on event time only, so old
lines are never judged against the clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from vigil.alerts.model import Alert
from vigil.clock import Clock, SystemClock
from vigil.config.loader import load_config
from vigil.config.models import VigilConfig
from vigil.detect.factory import rule_pack_from_config
from vigil.detect.rulepack import RulePack
from vigil.detect.stage import DetectionStage
from vigil.errors import StorageError, VigilError
from vigil.live.batching import BatchCollector
from vigil.live.checkpoints import CheckpointStore
from vigil.live.delivery import DeliveryThread
from vigil.live.gate import LiveGate
from vigil.live.generation import MARKERS, Generation
from vigil.live.http import MetricsServer
from vigil.live.metrics import Metrics
from vigil.live.parsing import Group, LiveParsers
from vigil.live.replay import ReplayMarks, restore_markers
from vigil.live.signals import Flags
from vigil.live.sources import build_sources, source_formats
from vigil.live.status import Snapshot
from vigil.notify.notifier import Notifier
from vigil.respond.engine import ResponseEngine
from vigil.respond.model import Action
from vigil.sources.live import LiveSource, RawChunk
from vigil.sources.tail import TailSource
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB

log = logging.getLogger("vigil.live")

# Seconds between status snapshots written to the state database.
STATUS_EVERY = 5.0
# /healthz fails when the loop has not come round for this many ticks.
STALL_TICKS = 30


class Daemon:
    def __init__(
        self,
        config: VigilConfig,
        config_path: Path | None,
        *,
        state_dir: Path,
        apply: bool = False,
        clock: Clock | None = None,
        flags: Flags | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.state_dir = state_dir
        self.apply = apply
        self.clock: Clock = clock or SystemClock()
        self.flags = flags or Flags()
        self.db = StateDB.in_state_dir(state_dir)
        self.checkpoints = CheckpointStore(self.db)
        self.metrics = Metrics()
        self.server: MetricsServer | None = None
        self.started_at = self.clock.now()
        self._loop_at = time.monotonic()
        self._failure: str | None = None
        self._snapshot = Snapshot(os.getpid(), self.started_at, str(config_path or ""))
        # The running generation (None until run() has started it).
        self.gen: Generation | None = None

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (returns) or until the state database fails (raises)."""
        gen = self.gen = self._start(self.config, rule_pack_from_config(self.config))
        self._serve(self.config)
        self.metrics.set("vigil_up", 1)
        tick = self.config.live.tick
        next_tick = time.monotonic() + tick
        try:
            while not self.flags.stop.is_set():
                if self.flags.reload.is_set():
                    self.flags.reload.clear()
                    gen = self.gen = self._reload(gen)
                    tick = gen.config.live.tick
                wait = min(0.2, max(0.0, next_tick - time.monotonic()))
                batch = gen.collector.next(wait)
                if batch:
                    self._process(gen, batch)
                if time.monotonic() >= next_tick:
                    self._tick(gen)
                    next_tick = time.monotonic() + tick
                self._loop_at = time.monotonic()
            log.info("stopping (%s): finishing the lines read", self.flags.stopped_by)
            self._finish(gen)
            self._write_status(gen, stopped=True)
        except sqlite3.Error as e:
            self._failure = str(e)
            self.metrics.inc("vigil_storage_errors_total")
            raise StorageError(
                f"cannot write the state database {self.db.path}: {e}; stopped at the last "
                "committed checkpoint (start again once the database is writable)"
            ) from e
        finally:
            if self.server is not None:
                self.server.stop()
            with contextlib.suppress(sqlite3.Error):  # closing checkpoints the WAL: may fail too
                self.db.close()

    def _start(self, config: VigilConfig, pack: RulePack) -> Generation:
        gen = self._build(config, pack)
        gen.markers = self.checkpoints.blobs(MARKERS)
        restored = restore_markers(gen.detection.correlation, gen.markers)
        if restored:
            log.info("restored %d decided episodes", restored)
        started: list[LiveSource] = []
        try:
            for source in gen.sources.values():
                # A blocking put: a full queue holds the sources back (back-pressure).
                source.start(gen.chunks.put)
                started.append(source)
        except BaseException:
            for source in started:
                source.stop()
            raise
        if gen.delivery is not None:
            gen.delivery.start()
        if gen.engine.enforce:
            self._reconcile(gen)
        log.info(
            "running",
            extra={
                "sources": sorted(gen.sources),
                "mode": gen.engine.mode,
                "rules": len(pack.compiled),
            },
        )
        return gen

    def _build(self, config: VigilConfig, pack: RulePack) -> Generation:
        live = config.live
        gate = LiveGate(
            self.clock,
            correlation_rules={s.name for s in pack.correlations},
            repository=AlertRepository(self.db),
            throttle=config.alerts.throttle,
            suppressions=[s.build() for s in config.suppressions],
            max_evidence=config.alerts.max_evidence,
        )
        detection = DetectionStage(
            pack, gate, self.clock, max_evidence=config.alerts.max_evidence, live=True
        )
        engine = ResponseEngine.from_config(
            config, self.db, self.clock, enforce=True if self.apply else None
        )
        notifier = Notifier(config.notify, self.db, self.clock)
        chunks: queue.Queue[RawChunk] = queue.Queue(maxsize=live.queue_chunks)
        return Generation(
            config=config,
            sources=build_sources(config, self.checkpoints, self.clock, self.state_dir),
            chunks=chunks,
            collector=BatchCollector(chunks, lines=live.batch_lines, ms=live.batch_ms),
            parsers=LiveParsers(
                source_formats(config),
                tz=config.timezone,
                format_options={n: s.as_options() for n, s in config.parsers.items()},
                clock=self.clock,
            ),
            detection=detection,
            gate=gate,
            engine=engine,
            notifier=notifier if notifier.enabled else None,
            delivery=DeliveryThread(config.notify, self.db.path, self.clock, live.tick)
            if notifier.enabled
            else None,
            marks=ReplayMarks(),
        )

    # -- one batch -----------------------------------------------------------------------

    def _process(self, gen: Generation, batch: list[RawChunk]) -> None:
        groups = gen.parsers.parse(batch)
        replay = batch[0].replay
        now = self.clock.now()
        actions: list[Action] = []
        raised: list[Alert] = []
        with self.db.transaction() as cur:
            gen.gate.replaying = replay
            try:
                for group in groups:
                    if group.events is not None and group.events.height:
                        gen.detection.consume(group.events)
            finally:
                gen.gate.replaying = False
            raised = gen.gate.take_raised()
            actions = self._answer(gen, raised)
            gen.save(self.checkpoints, gen.record(groups), cur, now)
        self._count(batch, groups, raised, actions)

    def _answer(self, gen: Generation, raised: list[Alert]) -> list[Action]:
        """The response policy and the notification queue for the alerts of a batch, in
        its transaction. A fault in either is logged and counted, never fatal: the
        alerts are stored all the same, and a monitor that stopped on one odd alert would
        stop again on the same lines after a restart."""
        if not raised:
            return []
        actions: list[Action] = []
        try:
            actions = gen.engine.respond(raised).actions
        except sqlite3.Error:
            raise  # the state database failing stops the batch (and vigil), see run()
        except Exception:
            log.exception("responding to %d alerts failed", len(raised))
            self.metrics.inc("vigil_answer_errors_total", stage="respond")
        if gen.notifier is not None:
            try:
                gen.notifier.alerts(raised, actions)
            except sqlite3.Error:
                raise
            except Exception:
                log.exception("queueing notifications for %d alerts failed", len(raised))
                self.metrics.inc("vigil_answer_errors_total", stage="notify")
        return actions

    def _count(
        self,
        batch: list[RawChunk],
        groups: list[Group],
        raised: list[Alert],
        actions: list[Action],
    ) -> None:
        m = self.metrics
        now = self.clock.now()
        for g in groups:
            m.inc("vigil_lines_total", g.lines, source=g.source)
            if g.replay:
                m.inc("vigil_replayed_lines_total", g.lines, source=g.source)
            if g.events is not None:
                m.inc("vigil_events_total", g.events.height, source=g.source)
            for reason, n in g.rejects.items():
                m.inc("vigil_rejects_total", n, source=g.source, reason=reason)
        for alert in raised:
            m.inc("vigil_alerts_total", rule=alert.rule_name)
        for action in actions:
            m.inc("vigil_actions_total", responder=action.responder, state=str(action.state))
        m.inc("vigil_batches_total")
        oldest: dict[str, datetime] = {}
        for c in batch:
            if c.source not in oldest or c.received_at < oldest[c.source]:
                oldest[c.source] = c.received_at
        for source, at in oldest.items():
            m.set("vigil_source_lag_seconds", (now - at).total_seconds(), source=source)
        m.observe("vigil_batch_seconds", (now - min(oldest.values())).total_seconds())
        m.set("vigil_last_commit_timestamp_seconds", now.timestamp())

    # -- the timer -----------------------------------------------------------------------

    def _tick(self, gen: Generation) -> None:
        now = self.clock.now()
        idle = gen.idle()
        actions: list[Action] = []
        raised: list[Alert] = []
        with self.db.transaction() as cur:
            if idle:
                gen.gate.admit(gen.detection.correlation.flush(now))
                raised = gen.gate.take_raised()
                actions = self._answer(gen, raised)
            gen.save(self.checkpoints, set(gen.marks.marks) & set(gen.commits), cur, now)
        gen.gate.prune()
        try:
            expired = gen.engine.expire()
        except VigilError as e:
            # A backend that cannot undo a ban now is asked again at the next tick.
            log.error("expiring actions failed: %s", e)
            expired = []
        for alert in raised:
            self.metrics.inc("vigil_alerts_total", rule=alert.rule_name)
        for action in [*actions, *expired]:
            self.metrics.inc(
                "vigil_actions_total", responder=action.responder, state=str(action.state)
            )
        self.metrics.set("vigil_queue_chunks", gen.chunks.qsize())
        for name, source in gen.sources.items():
            stats = source.stats()
            self.metrics.set("vigil_source_dropped_total", stats.dropped, source=name)
            if isinstance(source, TailSource):
                self.metrics.set("vigil_source_backlog_bytes", source.backlog_bytes(), source=name)
        if self._snapshot.due(STATUS_EVERY):
            self._write_status(gen)

    def _write_status(self, gen: Generation, *, stopped: bool = False) -> None:
        doc = self._snapshot.build(
            gen, self.metrics, self.clock.now(), self.server, stopped=stopped
        )
        self.checkpoints.put_state(None, "status", doc, self.clock.now())

    # -- stop and reload -----------------------------------------------------------------

    def _finish(self, gen: Generation) -> None:
        """Stop the sources and process every line they handed over."""

        def stop_all() -> None:
            for source in gen.sources.values():
                source.stop()

        # Stopped on a thread: a source blocked on the full queue needs this loop to
        # take chunks before it can notice it was asked to stop.
        stopper = threading.Thread(target=stop_all, name="vigil-stop")
        stopper.start()
        while stopper.is_alive() or gen.collector.pending():
            batch = gen.collector.next(0.05)
            if batch:
                self._process(gen, batch)
        stopper.join()
        if gen.delivery is not None:
            gen.delivery.stop()

    def _reload(self, gen: Generation) -> Generation:
        try:
            config = load_config(self.config_path)
            pack = rule_pack_from_config(config)
            # Sources are built (not started) to refuse settings that cannot work.
            build_sources(config, self.checkpoints, self.clock, self.state_dir)
        except VigilError as e:
            log.error("reload refused, the running configuration stays: %s", e)
            return gen
        log.info("reloading %s", self.config_path)
        self._finish(gen)
        try:
            new = self._start(config, pack)
        except VigilError as e:
            log.error("the new configuration does not start (%s); back to the old one", e)
            return self._start(gen.config, gen.detection.pack)
        if self.server is not None and config.live.metrics != gen.config.live.metrics:
            self.server.stop()
            self.server = None
            self._serve(config)
        self.config = config
        return new

    # -- operations ----------------------------------------------------------------------

    def _serve(self, config: VigilConfig) -> None:
        if config.live.metrics is None:
            return
        host, _, port = config.live.metrics.rpartition(":")
        self.server = MetricsServer(host.strip("[]"), int(port), self.metrics, self.health)
        self.server.start()

    def health(self) -> tuple[bool, dict[str, object]]:
        stalled = time.monotonic() - self._loop_at
        ok = self._failure is None and stalled < STALL_TICKS * self.config.live.tick
        return ok, {
            "loop_seconds_ago": round(stalled, 3),
            "uptime_seconds": round((self.clock.now() - self.started_at).total_seconds(), 1),
            "error": self._failure,
        }

    def _reconcile(self, gen: Generation) -> None:
        try:
            drift = gen.engine.reconcile()
        except VigilError as e:
            log.error("reconciling the responders failed: %s", e)
            return
        if drift:
            log.warning(
                "responders drifted from the records", extra={"drift": [str(d) for d in drift]}
            )
