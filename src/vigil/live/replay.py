"""How a restart rebuilds the correlation windows that were open at the last commit:
by reading the same lines again (the state is rebuilt, not serialised), plus one marker
per decided episode.

Where to re-read from. Per file, the daemon keeps one mark per batch: where the batch's
lines of that file start, and the newest event time among them. The oldest event still
held in any window (`held_since`) says which marks are still needed: a file is re-read
from its first batch holding an event at least that recent. The engine drops every row
older than its cutoff (the longest window plus its lateness before the newest event),
so this reaches back at most about twice the longest correlation timespan. Re-reading a
little more is harmless: older events fall outside every window still open.

Decided episodes. An episode that has fired keeps going as long as its events come less
than a timespan apart, and it does not fire again; the engine knows it has fired from a
flag on its rows, and drops its oldest rows as time moves on. Re-read lines rebuild the
recent part of such an episode, but not the knowledge that it fired hours ago, and it
would fire again. So with every checkpoint the daemon also stores, per rule, the newest
row of each decided episode (`decided_markers`), and a restart puts these rows back,
weightless and without a counted value, before re-reading (`restore_markers`): re-read
events of the same key within a timespan join the episode and inherit its flag. Rules
with an upper bound (decided when an episode ends) are left to the gate's check against
stored alerts (live.gate).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from vigil.detect.correlation import rows as R
from vigil.detect.correlation.engine import CorrelationEngine
from vigil.detect.correlation.spec import CorrelationKind
from vigil.detect.correlation.state import RuleState
from vigil.sources.live import Position
from vigil.sources.tail_file import FINGERPRINT_BYTES

Key = tuple[str, str]  # (source, file key)


@dataclass
class _Mark:
    start: Position
    newest: datetime | None


@dataclass
class ReplayMarks:
    marks: dict[Key, deque[_Mark]] = field(default_factory=dict)

    def record(self, source: str, start: Position, newest: datetime | None) -> None:
        key = (source, start.path)
        marks = self.marks.setdefault(key, deque())
        if start.offset == 0:
            marks.clear()  # a new file under this name: the old one's marks are not its
        elif not marks:
            # A file read on under a new name (renamed by rotation) keeps its marks, so a
            # restart re-reads it from before the rotation.
            marks.extend(self._renamed(source, key, start))
        marks.append(_Mark(start, newest))

    def _renamed(self, source: str, key: Key, start: Position) -> deque[_Mark]:
        if not start.fingerprint.startswith(f"{FINGERPRINT_BYTES}:"):
            return deque()  # a short file's fingerprint is not yet its identity
        for other, marks in self.marks.items():
            same_file = marks and marks[-1].start.fingerprint == start.fingerprint
            if other[0] == source and other != key and same_file:
                return self.marks.pop(other)
        return deque()

    def replay_from(self, key: Key, held: datetime | None) -> Position | None:
        """Where to re-read `key` from after a restart (None: nothing to re-read)."""
        marks = self.marks.get(key)
        if not marks:
            return None
        if held is None:
            marks.clear()
            return None
        while marks and (marks[0].newest is None or marks[0].newest < held):
            marks.popleft()
        return marks[0].start if marks else None


def _states(engine: CorrelationEngine) -> list[RuleState]:
    # The engine's per-rule state is private to it: this module alone reads the carried
    # rows (their times and decided flags) and puts decided markers back.
    return list(engine._states)


def held_since(engine: CorrelationEngine) -> datetime | None:
    """The event time of the oldest row any correlation window still holds."""
    oldest: int | None = None
    for state in _states(engine):
        low = state.oldest
        if low is not None and (oldest is None or low < oldest):
            oldest = low
    return R.to_datetime(oldest) if oldest is not None else None


def decided_markers(engine: CorrelationEngine) -> dict[str, bytes]:
    """Per rule (by name), the newest row of each decided episode, as Arrow IPC bytes."""
    out: dict[str, bytes] = {}
    for state in _states(engine):
        if state.spec.deferred:
            continue
        done = state.carry.filter(pl.col(R.DONE))
        if done.height:
            newest = done.sort(R.TS).unique(subset=state.keys, keep="last", maintain_order=True)
            buf = io.BytesIO()
            _weightless(newest, state).write_ipc(buf)
            out[state.spec.name] = buf.getvalue()
    return out


def restore_markers(engine: CorrelationEngine, markers: Mapping[str, bytes]) -> int:
    """Put stored decided markers back into a fresh engine; how many rows went in. A
    rule whose carried columns changed since (edited rule) gets none."""
    restored = 0
    for state in _states(engine):
        data = markers.get(state.spec.name)
        if data is None or state.spec.deferred:
            continue
        rows = pl.read_ipc(io.BytesIO(data))
        if rows.schema != state.carry.schema:
            continue
        state.carry = pl.concat([state.carry, rows], how="vertical")
        restored += rows.height
    return restored


def _weightless(rows: pl.DataFrame, state: RuleState) -> pl.DataFrame:
    """The marker counts nothing: no weight, no counted value, no rule position."""
    out = rows.with_columns(pl.lit(0, dtype=pl.Int64()).alias(R.W))
    if state.spec.kind is CorrelationKind.VALUE_COUNT:
        out = out.with_columns(pl.lit(None, dtype=pl.String()).alias(R.V))
    elif state.spec.kind is not CorrelationKind.EVENT_COUNT:
        out = out.with_columns(pl.lit(-1, dtype=pl.Int64()).alias(R.V))
    return out
