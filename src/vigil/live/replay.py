"""Where a restart reads again from, so the correlation windows open at the last commit
are rebuilt from the same lines (state is rebuilt, not serialised).

Per file, the daemon keeps one mark per batch: where the batch's lines of that file
start, and the newest event time among them. The oldest event still held in any
window (`held_since`) says which marks are still needed: a file is re-read from its
first batch holding an event at least that recent. Files are read in order and their
events come mostly in time order, so this is close to the oldest held line. Re-reading
a little more is harmless: older events fall outside every window that is still open.

`max_replay` bounds the re-read (event time before the newest one): an episode older
than that (a flood going on for hours) is only partly rebuilt, and its continuation may
be folded into the stored alert as a repeat.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vigil.detect.correlation import rows as R
from vigil.detect.correlation.engine import CorrelationEngine
from vigil.sources.live import Position

Key = tuple[str, str]  # (source, file key)


@dataclass
class _Mark:
    start: Position
    newest: datetime | None


@dataclass
class ReplayMarks:
    max_replay: timedelta
    marks: dict[Key, deque[_Mark]] = field(default_factory=dict)

    def record(self, source: str, start: Position, newest: datetime | None) -> None:
        key = (source, start.path)
        marks = self.marks.setdefault(key, deque())
        if start.offset == 0:
            marks.clear()  # a new file under this name: the old one's marks are not its
        marks.append(_Mark(start, newest))

    def forget(self, key: Key) -> None:
        self.marks.pop(key, None)

    def replay_from(
        self, key: Key, held: datetime | None, newest: datetime | None
    ) -> Position | None:
        """Where to re-read `key` from after a restart (None: nothing to re-read)."""
        marks = self.marks.get(key)
        if not marks:
            return None
        if held is None:
            marks.clear()
            return None
        floor = held
        if newest is not None and floor < newest - self.max_replay:
            floor = newest - self.max_replay
        while marks and (marks[0].newest is None or marks[0].newest < floor):
            marks.popleft()
        return marks[0].start if marks else None


def held_since(engine: CorrelationEngine) -> datetime | None:
    """The event time of the oldest row any correlation window still holds."""
    oldest: int | None = None
    # The engine's per-rule state is private to it; this reads the carried rows' times
    # only, and is the one place outside the engine that does.
    for state in engine._states:
        if state.carry.height:
            low = state.carry.get_column(R.TS).min()
            if isinstance(low, int) and (oldest is None or low < oldest):
                oldest = low
    return R.to_datetime(oldest) if oldest is not None else None
