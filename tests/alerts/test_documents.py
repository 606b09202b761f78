"""Alert documents: encoded once, byte for byte what json.dumps writes, streamed into reports."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.documents import (
    AlertDocuments,
    encode,
    encode_evidence,
    with_new_flag,
    write_json,
)
from vigil.alerts.model import Alert, Evidence, iso_texts


def _with_evidence() -> Alert:
    evidence = tuple(
        Evidence(T0 + timedelta(seconds=n), "auth.log", n, f"Failed password for r\u00f6ot #{n}")
        for n in range(3)
    )
    return replace(alert(**{"source.ip": "203.0.113.7", "destination.port": 22}), evidence=evidence)


def test_encoded_text_is_what_json_dumps_writes() -> None:
    """The whole text and each column part equal json.dumps of the alert's document."""
    a = _with_evidence()
    doc = a.to_json()
    enc = encode(a)
    assert enc.text == json.dumps(doc, default=str)
    assert enc.evidence == json.dumps(doc["evidence"], default=str)
    assert (json.loads(enc.tags), json.loads(enc.entity)) == (doc["tags"], doc["entity"])


def test_alert_survives_its_json() -> None:
    """An alert rebuilt from its document equals it, evidence and id included."""
    a = _with_evidence()
    assert Alert.from_json(json.loads(encode(a).text)) == a


def test_new_flag_comes_last() -> None:
    """The report's "new" key is appended after the evidence, as a JSON boolean."""
    text = with_new_flag(encode(alert()).text, new=False)
    assert list(json.loads(text))[-2:] == ["evidence", "new"]
    assert json.loads(text)["new"] is False


def test_write_json_equals_json_dumps_with_streamed_alerts() -> None:
    """A document holding AlertDocuments is written as json.dumps writes the plain list."""
    texts = [with_new_flag(encode(a).text, new=True) for a in (_with_evidence(), alert())]
    docs = AlertDocuments(len(texts), lambda: iter(texts))
    out = io.StringIO()
    write_json(
        {"vigil": "x", "alerts": docs, "empty": AlertDocuments(0, lambda: iter(())), "n": 1}, out
    )
    plain = {"vigil": "x", "alerts": [json.loads(t) for t in texts], "empty": [], "n": 1}
    assert out.getvalue() == json.dumps(plain, default=str) + "\n"


def test_documents_read_like_a_list() -> None:
    """Length, iteration, indexing and slicing give the decoded documents."""
    texts = [encode(alert(count=n)).text for n in (1, 2, 3)]
    docs = AlertDocuments(3, lambda: iter(texts))
    assert len(docs) == 3
    assert [d["count"] for d in docs] == [1, 2, 3]
    assert (docs[1]["count"], docs[-1]["count"]) == (2, 3)
    assert [d["count"] for d in docs[1:]] == [2, 3]
    with pytest.raises(IndexError, match="out of range"):
        docs[3]


def test_evidence_text_is_what_json_dumps_writes() -> None:
    """Evidence written directly equals json.dumps of its dicts: escapes, nulls, offsets."""
    odd = 'tab\there "quoted" back\\slash \u00e9\u4e2d \ud83d\ude00 \x00 </script>'
    evidence = (
        Evidence(T0, "a.log", 7, odd),
        Evidence(T0 + timedelta(microseconds=5), None, None, None),
        Evidence(T0.astimezone(timezone(timedelta(hours=2))), "b \u00e9.log", 0, ""),
    )
    assert encode_evidence(evidence) == json.dumps([e.to_json() for e in evidence])
    assert encode_evidence(()) == "[]"


def test_column_formatted_times_equal_python_formatted_ones() -> None:
    """Times formatted by polars for a whole column read as Evidence.to_json writes them."""
    times = [
        T0,
        T0 + timedelta(microseconds=1),
        T0 + timedelta(seconds=59, microseconds=999999),
        datetime(1999, 12, 31, 23, 59, 59, 120000, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    ]
    column = pl.Series("ts", times, dtype=pl.Datetime("us", "UTC"))
    texts = pl.DataFrame([column]).select(iso_texts(pl.col("ts"))).to_series().to_list()
    assert texts == [Evidence(t, None, None).to_json()["@timestamp"] for t in times]
    with_text = Evidence(T0, "a.log", 1, "m", texts[0])
    assert with_text == Evidence(T0, "a.log", 1, "m")
    assert encode_evidence([with_text]) == encode_evidence([Evidence(T0, "a.log", 1, "m")])


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"author": 'Flor\u00e9al "F" Lee', "title": "caf\u00e9 \\ probe", "tags": ("a\u00e9", "b")},
        {"entity": {"source.ip": "203.0.113.7", "user.name": None}},
        {"entity": {"source.ip": "203.0.113.7", "destination.port": 22}},
        {"entity": {}, "tags": ()},
        {"count": True},
        {"count": 2.5},
        {"first_seen": T0.astimezone(timezone(timedelta(hours=-5)))},
    ],
)
def test_every_alert_encodes_as_json_dumps_writes_it(changes: dict[str, object]) -> None:
    """Plain alerts (written directly) and others (by the encoder) give json.dumps' text,
    and the store's times are their isoformat."""
    a = replace(_with_evidence(), **changes)
    enc = encode(a)
    assert enc.text == json.dumps(a.to_json(), default=str)
    assert enc.entity == json.dumps(a.entity, default=str)
    assert enc.tags == json.dumps(list(a.tags))
    assert (enc.first_seen, enc.last_seen) == (a.first_seen.isoformat(), a.last_seen.isoformat())
