"""The Alert: what a detector says it found, with the evidence to check it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

# How many evidence events an alert keeps by default.
MAX_EVIDENCE = 20
# json.dumps(..., default=str) without building an encoder per call (same text).
_ENCODER = json.JSONEncoder(default=str)


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
        return cls(
            _from_iso(doc["@timestamp"]), doc["log.file.path"], doc["log.file.line"], doc["message"]
        )


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
    evidence: tuple[Evidence, ...] = ()
    # The rule's author: the Detection Rule License of SigmaHQ rules requires alerts
    # derived from them to carry it.
    author: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Stable identity of "this rule about this entity", for dedup and throttling;
    # computed once, as the gate asks for it several times per alert.
    fingerprint: str = field(init=False, compare=False, default="")

    def __post_init__(self) -> None:
        key = _ENCODER.encode([self.rule_name, sorted(self.entity.items())])
        object.__setattr__(self, "fingerprint", hashlib.sha256(key.encode()).hexdigest()[:32])

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
