"""One generation of the live monitor: everything built from one configuration (SIGHUP
replaces it as a whole), and what it commits with each batch besides alerts and
actions: the sources' checkpoints with their replay positions, and the decided-episode
markers (see live.replay)."""

from __future__ import annotations

import queue
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

from vigil.config.models import VigilConfig
from vigil.detect.stage import DetectionStage
from vigil.live.batching import BatchCollector
from vigil.live.checkpoints import CheckpointStore
from vigil.live.delivery import DeliveryThread
from vigil.live.gate import LiveGate
from vigil.live.parsing import Group, LiveParsers, newest_event
from vigil.live.replay import Key, ReplayMarks, decided_markers, held_since
from vigil.notify.notifier import Notifier
from vigil.respond.engine import ResponseEngine
from vigil.sources.live import LiveSource, Position, RawChunk
from vigil.sources.tail import TailSource

# live_state keys of the decided-episode markers, one per correlation rule.
MARKERS = "decided:"


@dataclass
class Generation:
    """Everything built from one configuration."""

    config: VigilConfig
    sources: dict[str, LiveSource]
    chunks: queue.Queue[RawChunk]
    collector: BatchCollector
    parsers: LiveParsers
    detection: DetectionStage
    gate: LiveGate
    engine: ResponseEngine
    notifier: Notifier | None
    # Sends what the notifier queued, on a thread of its own (None: no channel).
    delivery: DeliveryThread | None
    marks: ReplayMarks
    commits: dict[Key, Position] = field(default_factory=dict)
    # Decided-episode markers as last stored, by rule (see live.replay).
    markers: dict[str, bytes] = field(default_factory=dict)
    # Checkpoints as last stored: an idle tick writes nothing.
    saved: dict[Key, tuple[Position, Position | None]] = field(default_factory=dict)

    def idle(self) -> bool:
        """Nothing waits to be processed and every file has been read to its end."""
        return self.collector.pending() == 0 and all(
            s.caught_up() for s in self.sources.values() if isinstance(s, TailSource)
        )

    def record(self, groups: list[Group]) -> set[Key]:
        """Note where each file's lines of a batch start and end; the files whose
        checkpoint moves. Re-read lines are marks only: their checkpoint is the one they
        were committed under, and saving theirs would move it back, so that a crash in
        the middle of the re-reading would raise their alerts again."""
        touched: set[Key] = set()
        for g in groups:
            if g.end is None:
                continue
            key = (g.source, g.end.path)
            if g.start is not None:
                self.marks.record(g.source, g.start, newest_event(g.events))
            if not g.replay:
                self.commits[key] = g.end
                touched.add(key)
        return touched

    def save(
        self, store: CheckpointStore, keys: set[Key], cur: sqlite3.Cursor, now: datetime
    ) -> None:
        """Write the checkpoints of `keys` and the changed markers in `cur`'s transaction."""
        held = held_since(self.detection.correlation)
        for key in keys:
            point = (self.commits[key], self.marks.replay_from(key, held))
            if self.saved.get(key) != point:
                store.save(cur, key[0], *point, now)
                self.saved[key] = point
        markers = decided_markers(self.detection.correlation)
        for rule in set(self.markers) | set(markers):
            data = markers.get(rule)
            if data == self.markers.get(rule):
                continue
            if data is None:
                store.drop_state(cur, MARKERS + rule)
            else:
                store.put_state(cur, MARKERS + rule, data, now)
        self.markers = markers
        # Checkpoints a file tail found no file for on its start.
        for name, source in self.sources.items():
            if isinstance(source, TailSource) and source.forgotten:
                for path in source.forgotten:
                    store.forget(cur, name, path)
                source.forgotten = []
