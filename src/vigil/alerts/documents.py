"""Alerts as JSON documents: encoded once when the gate admits them, streamed into the
report.

`Alert.to_json` is the one shape of an alert outside Python (the `alerts` of `vigil
analyze --json`, the store's columns). A run can raise tens of thousands of alerts, each
with up to `max_evidence` events: encoding each one once, and writing the report's list
one document at a time, keeps both the CPU and the memory of a run bounded by what one
alert costs, not by all of them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, NamedTuple, TextIO, overload

from vigil.alerts.model import _ENCODER, Alert, Evidence, EvidenceText, _iso
from vigil.alerts.model import encode_text as _encode_text


class EncodedAlert(NamedTuple):
    """An alert's document as JSON text, and the parts the store keeps in columns."""

    text: str  # the whole of Alert.to_json(), as json.dumps writes it
    tags: str
    entity: str
    evidence: str
    # first_seen and last_seen as the store keeps them (`datetime.isoformat`).
    first_seen: str
    last_seen: str


def encode(alert: Alert) -> EncodedAlert:
    # The evidence is most of an alert: encoded once, shared by the text and the column.
    evidence = encode_evidence(alert.evidence)
    first, last = alert.first_seen.isoformat(), alert.last_seen.isoformat()
    if type(alert.count) is int:
        # A value that is not a string raises: then the encoder decides how it looks.
        with contextlib.suppress(TypeError):
            return _encode_plain(alert, evidence, first, last)
    doc = alert.to_json(evidence=False)
    head = _ENCODER.encode(doc)
    return EncodedAlert(
        text=f'{head[:-1]}, "evidence": {evidence}}}',
        tags=json.dumps(doc["tags"]),
        entity=_ENCODER.encode(doc["entity"]),
        evidence=evidence,
        first_seen=first,
        last_seen=last,
    )


def _encode_plain(alert: Alert, evidence: str, first: str, last: str) -> EncodedAlert:
    """What json.dumps writes for `to_json()`, written directly (an encoder call costs
    more than this whole function) for an alert whose values are all strings, but its
    int count. TypeError when one is not (json's string encoder takes only strings)."""
    rule, tags = _rule_texts(alert)
    entity = ", ".join([f"{_encode_text(k)}: {_text(v)}" for k, v in alert.entity.items()])
    text = (
        f'{{"id": {_encode_text(alert.id)}, {rule}, "entity": {{{entity}}}, '
        f'"count": {alert.count}, "first_seen": "{first.replace("+00:00", "Z")}", '
        f'"last_seen": "{last.replace("+00:00", "Z")}", '
        f'"fingerprint": "{alert.fingerprint}", "evidence": {evidence}}}'
    )
    return EncodedAlert(text, tags, f"{{{entity}}}", evidence, first, last)


# Per rule: its alerts' text from "rule_name" to "author", and their tags' text.
_RULE_TEXTS: dict[tuple[object, ...], tuple[str, str]] = {}
_RULE_TEXTS_MAX = 4096


def _rule_texts(alert: Alert) -> tuple[str, str]:
    key = (alert.rule_name, alert.rule_id, alert.title, alert.level, alert.tags, alert.author)
    found = _RULE_TEXTS.get(key)
    if found is None:
        tags = f"[{', '.join([_encode_text(t) for t in alert.tags])}]"
        rule = (
            f'"rule_name": {_encode_text(alert.rule_name)}, '
            f'"rule_id": {_encode_text(alert.rule_id)}, "title": {_encode_text(alert.title)}, '
            f'"level": {_encode_text(alert.level)}, "tags": {tags}, '
            f'"author": {_text(alert.author)}'
        )
        if len(_RULE_TEXTS) >= _RULE_TEXTS_MAX:
            _RULE_TEXTS.clear()
        found = _RULE_TEXTS[key] = (rule, tags)
    return found


def encode_evidence(evidence: Iterable[Evidence]) -> str:
    """`json.dumps([e.to_json() for e in evidence])`, the same text, written directly: an
    alert has up to `max_evidence` events, and the dicts alone cost more than this."""
    if isinstance(evidence, EvidenceText):
        return evidence.text
    parts = []
    for e in evidence:
        if e.line is not None and type(e.line) is not int:
            # Not a plain int (a subclass, a float): json.dumps decides how it looks.
            return json.dumps([x.to_json() for x in evidence], default=str)
        parts.append(
            f'{{"@timestamp": "{e.iso or _iso(e.timestamp)}", '
            f'"log.file.path": {_text(e.path)}, '
            f'"log.file.line": {"null" if e.line is None else e.line}, '
            f'"message": {_text(e.message)}}}'
        )
    return f"[{', '.join(parts)}]"


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_text(value)


def with_new_flag(text: str, new: bool) -> str:
    """An encoded document with `"new"` added last, as the report has it."""
    return f'{text[:-1]}, "new": {"true" if new else "false"}}}'


class AlertDocuments(Sequence[dict[str, Any]]):
    """The report's alert documents, read when iterated (from wherever the run keeps its
    alerts) and written by `write_json` without ever holding all of them."""

    def __init__(self, count: int, texts: Callable[[], Iterator[str]]) -> None:
        self._count = count
        self._texts = texts

    def texts(self) -> Iterator[str]:
        """Each document as JSON text, in report order."""
        return self._texts()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for text in self._texts():
            doc: dict[str, Any] = json.loads(text)
            yield doc

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("alert document index out of range")
        return next(islice(iter(self), index, None))


def write_json(doc: Mapping[str, Any], out: TextIO) -> None:
    """Write `json.dumps(doc, default=str)` and a newline to `out`, the same text, but
    with every `AlertDocuments` value written one alert at a time."""
    out.write("{")
    for n, (key, value) in enumerate(doc.items()):
        out.write(f"{', ' if n else ''}{json.dumps(key)}: ")
        if isinstance(value, AlertDocuments):
            out.write("[")
            for k, text in enumerate(value.texts()):
                out.write(f", {text}" if k else text)
            out.write("]")
        else:
            out.write(_ENCODER.encode(value))
    out.write("}\n")
