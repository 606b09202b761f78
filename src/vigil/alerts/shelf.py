"""Where the alert gate keeps the alerts of a run until the report: in memory, or spilled
to a private temporary file.

A replay of a big log can raise tens of thousands of alerts with their evidence (about
3 KB of Python objects each): `SpillShelf` keeps them as JSON text on disk, so a run's
memory grows by what places and orders an alert (~150 bytes), not by the alert. Both
shelves are a mapping from alert id to alert in the order alerts were first put
(putting an alert with a known id replaces it in place), and give the alerts in report
order: by first event, then rule name, then that order.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from abc import ABC, abstractmethod
from array import array
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, overload

from vigil.alerts.documents import AlertDocuments, EncodedAlert, encode, with_new_flag
from vigil.alerts.model import Alert

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# Texts put are written to the spill file in pieces of about this size, and read back
# for the report in windows of these sizes.
_FLUSH_BYTES = 1 << 20
_READ_MIN, _READ_MAX = 1 << 14, 1 << 20


class AlertShelf(ABC):
    """Read like a `Mapping[str, Alert]`; `put` adds or replaces."""

    # Whether alerts are kept as their JSON text (the gate then encodes each one once).
    spills: bool = False

    @abstractmethod
    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:
        """Keep `alert` (replacing the one with its id, in place)."""

    @abstractmethod
    def __getitem__(self, alert_id: str) -> Alert: ...

    @abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def ordered(self) -> Sequence[Alert]:
        """The alerts in report order."""

    @abstractmethod
    def documents(self, known: Collection[str]) -> Sequence[dict[str, Any]]:
        """`Alert.to_json()` of each alert in report order, with `"new"`: False when its
        id is in `known` (it continues an alert an earlier run stored)."""

    def get(self, alert_id: str) -> Alert | None:
        try:
            return self[alert_id]
        except KeyError:
            return None

    def values(self) -> Iterator[Alert]:
        return (self[k] for k in self)

    def __contains__(self, alert_id: object) -> bool:
        return isinstance(alert_id, str) and self.get(alert_id) is not None


class MemoryShelf(AlertShelf):
    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}

    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:  # noqa: ARG002 - kept as objects
        self._alerts[alert.id] = alert

    def __getitem__(self, alert_id: str) -> Alert:
        return self._alerts[alert_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._alerts)

    def __len__(self) -> int:
        return len(self._alerts)

    def ordered(self) -> list[Alert]:
        return sorted(self._alerts.values(), key=lambda a: (a.first_seen, a.rule_name))

    def documents(self, known: Collection[str]) -> list[dict[str, Any]]:
        out = []
        for alert in self.ordered():
            doc = alert.to_json()
            doc["new"] = alert.id not in known
            out.append(doc)
        return out


class SpillShelf(AlertShelf):
    """Alerts as JSON text appended to a private temporary file (deleted when closed).

    Each alert's text is written once where the file ends (a replaced alert's new text
    too: folds are rare); memory holds, per alert, its id, where its latest text lies,
    and its report-order key."""

    spills = True

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="vigil-alerts-")
        os.unlink(path)
        self._fd = fd
        self._closer = weakref.finalize(self, os.close, fd)
        self._pending: list[bytes] = []  # written by the next flush, at `_written`
        self._pending_bytes = 0
        self._written = 0
        self._slots: dict[str, int] = {}  # id -> slot, in the order first put
        self._offset = array("q")
        self._length = array("q")
        self._first_us = array("q")
        self._rule: list[str] = []

    def put(self, alert: Alert, encoded: EncodedAlert | None = None) -> None:
        data = (encoded or encode(alert)).text.encode()
        first_us = _micros(alert.first_seen)
        slot = self._slots.get(alert.id)
        if slot is None:
            self._slots[alert.id] = len(self._rule)
            self._offset.append(self._end)
            self._length.append(len(data))
            self._first_us.append(first_us)
            self._rule.append(alert.rule_name)
        else:
            self._offset[slot], self._length[slot] = self._end, len(data)
            self._first_us[slot], self._rule[slot] = first_us, alert.rule_name
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    @property
    def _end(self) -> int:
        return self._written + self._pending_bytes

    def _flush(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        view = memoryview(data)
        while view:
            done = os.pwrite(self._fd, view, self._written)
            self._written += done
            view = view[done:]

    def _text(self, slot: int) -> str:
        if self._pending:
            self._flush()
        return os.pread(self._fd, self._length[slot], self._offset[slot]).decode()

    def __getitem__(self, alert_id: str) -> Alert:
        return Alert.from_json(_loads(self._text(self._slots[alert_id])))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._slots))

    def __len__(self) -> int:
        return len(self._slots)

    def ordered(self) -> Sequence[Alert]:
        return _Ordered(self)

    def documents(self, known: Collection[str]) -> AlertDocuments:
        def texts() -> Iterator[str]:
            for alert_id, text in self._in_order():
                yield with_new_flag(text, alert_id not in known)

        return AlertDocuments(len(self), texts)

    def _in_order(self) -> Iterator[tuple[str, str]]:
        """(id, text) of each alert in report order."""
        if self._pending:
            self._flush()
        ids = list(self._slots)
        first, rule, offset, length = self._first_us, self._rule, self._offset, self._length
        # Report order mostly follows the file (alerts are put about in time order):
        # texts are read in windows that grow while they serve several alerts each and
        # shrink when they do not, so a run in another order reads little in vain.
        window, start, size, served = memoryview(b""), 0, _READ_MIN, 0
        # A stable sort: ties keep the order alerts were first put.
        for slot in sorted(range(len(ids)), key=lambda k: (first[k], rule[k])):
            at, n = offset[slot] - start, length[slot]
            if at < 0 or at + n > len(window):
                size = min(2 * size, _READ_MAX) if served > 2 else max(size // 2, _READ_MIN)
                start, at, served = offset[slot], 0, 0
                window = memoryview(os.pread(self._fd, max(size, n), start))
            served += 1
            yield ids[slot], str(window[at : at + n], "utf-8")

    def close(self) -> None:
        """Let the file go now (else when the shelf is collected)."""
        self._closer()


class _Ordered(Sequence[Alert]):
    """A spill shelf's alerts in report order, decoded while iterated."""

    def __init__(self, shelf: SpillShelf) -> None:
        self._shelf = shelf

    def __len__(self) -> int:
        return len(self._shelf)

    def __iter__(self) -> Iterator[Alert]:
        for _, text in self._shelf._in_order():
            yield Alert.from_json(_loads(text))

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...
    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("alert index out of range")
        return next(islice(iter(self), index, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _US


def _loads(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc
