"""The Alert: what a detector says it found, with the evidence to check it."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

import polars as pl

# How many evidence events an alert keeps by default.
MAX_EVIDENCE = 20
# json.dumps(..., default=str) without building an encoder per call (same text).
_ENCODER = json.JSONEncoder(default=str)
# json's own C string encoder (what json.dumps uses with ensure_ascii).
encode_text: Callable[[str], str] = json.encoder.encode_basestring_ascii


@dataclass(frozen=True, slots=True)
class Evidence:
    """One event behind an alert, pointing back at its file and line."""

    timestamp: datetime
    path: str | None
    line: int | None
    message: str | None = None
    # The timestamp as `to_json` writes it, when whoever built the evidence had it at
    # hand (detectors format a whole column at once: ~0.3 us a value instead of ~2).
    iso: str | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "@timestamp": self.iso or _iso(self.timestamp),
            "log.file.path": self.path,
            "log.file.line": self.line,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Evidence:
        """The evidence `to_json` describes."""
        iso = doc["@timestamp"]
        return cls(_from_iso(iso), doc["log.file.path"], doc["log.file.line"], doc["message"], iso)


class EvidenceText(Sequence[Evidence]):
    """An alert's evidence held as the JSON text `documents.encode_evidence` writes for it
    (a list of `Evidence.to_json`), decoded into `Evidence` objects on first use.

    Detectors write this text for all the alerts of a batch at once, in polars; most
    alerts are then only encoded (store, shelf, report) and never need the objects,
    which cost more than the rest of the alert."""

    __slots__ = ("_items", "_size", "text")

    def __init__(self, text: str, size: int) -> None:
        self.text = text
        self._size = size
        self._items: tuple[Evidence, ...] | None = None

    def items(self) -> tuple[Evidence, ...]:
        if self._items is None:
            docs: list[dict[str, Any]] = json.loads(self.text)
            self._items = tuple(Evidence.from_json(d) for d in docs)
        return self._items

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Evidence: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Evidence, ...]: ...
    def __getitem__(self, index: int | slice) -> Evidence | tuple[Evidence, ...]:
        return self.items()[index]

    def __iter__(self) -> Iterator[Evidence]:
        return iter(self.items())

    def __add__(self, other: Sequence[Evidence]) -> tuple[Evidence, ...]:
        return self.items() + tuple(other)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EvidenceText) and other.text == self.text:
            return True
        if isinstance(other, Sequence):
            return self.items() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.items())

    def __repr__(self) -> str:
        return f"EvidenceText({self.text!r}, {self._size})"


class _Ids:
    """Unique alert ids, 32 hex digits like `uuid4().hex` at a tenth of its cost: 96
    random bits drawn once per process (again after a fork, and after 2^32 ids), then a
    counter. A run's ids ascend, so the store's id index grows in one place instead of
    at random pages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(12).hex()
        self._counter = itertools.count()

    def __call__(self) -> str:
        n = next(self._counter)
        if n <= 0xFFFF_FFFF:
            return f"{self._prefix}{n:08x}"
        with self._lock:
            if next(self._counter) > 0xFFFF_FFFF:
                self._reset()
        return self()


new_id = _Ids()


@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    rule_name: str
    title: str
    level: str
    # The values that identify what the alert is about, e.g. {"source.ip": "203.0.113.7"}.
    entity: dict[str, Any]
    count: int
    first_seen: datetime
    last_seen: datetime
    tags: tuple[str, ...] = ()
    # A tuple of `Evidence`, or an `EvidenceText` from a detector.
    evidence: Sequence[Evidence] = ()
    # The rule's author: the Detection Rule License of SigmaHQ rules requires alerts
    # derived from them to carry it.
    author: str | None = None
    id: str = field(default_factory=new_id)
    # Stable identity of "this rule about this entity", for dedup and throttling;
    # computed once, as the gate asks for it several times per alert.
    fingerprint: str = field(init=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", fingerprint(self.rule_name, self.entity))

    def to_json(self, *, evidence: bool = True) -> dict[str, Any]:
        """The alert as JSON-ready data (`evidence=False`: without its "evidence" list)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "rule_name": self.rule_name,
            "rule_id": self.rule_id,
            "title": self.title,
            "level": self.level,
            "tags": list(self.tags),
            "author": self.author,
            "entity": self.entity,
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "fingerprint": self.fingerprint,
        }
        if evidence:
            doc["evidence"] = [e.to_json() for e in self.evidence]
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Alert:
        """The alert `to_json` describes (for alerts kept as JSON while a run goes on)."""
        return cls(
            rule_id=doc["rule_id"],
            rule_name=doc["rule_name"],
            title=doc["title"],
            level=doc["level"],
            entity=doc["entity"],
            count=doc["count"],
            first_seen=_from_iso(doc["first_seen"]),
            last_seen=_from_iso(doc["last_seen"]),
            tags=tuple(doc["tags"]),
            evidence=tuple(Evidence.from_json(e) for e in doc["evidence"]),
            author=doc["author"],
            id=doc["id"],
        )


def fingerprint(rule_name: str, entity: dict[str, Any]) -> str:
    """The sha256 of `json.dumps([rule_name, sorted(entity.items())], default=str)`, cut
    to 32 hex digits: stored, so the text hashed must never change."""
    items = sorted(entity.items())
    try:
        # The same text as the encoder writes, written directly (~4x cheaper) when the
        # name, keys and values are strings (json's string encoder takes nothing else).
        pairs = ", ".join([f"[{encode_text(k)}, {encode_text(v)}]" for k, v in items])
        key = f"[{encode_text(rule_name)}, [{pairs}]]"
    except TypeError:
        key = _ENCODER.encode([rule_name, items])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso_texts(ts: pl.Expr) -> pl.Expr:
    """`_iso` of each value of a UTC datetime column, formatted by polars."""
    return (
        pl.when(ts.dt.microsecond() == 0)
        .then(ts.dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
        .otherwise(ts.dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ"))
    )
