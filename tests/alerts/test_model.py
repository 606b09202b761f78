"""The alert model: evidence kept as text, fingerprints, ids."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.documents import encode, encode_evidence
from vigil.alerts.model import Evidence, EvidenceText, fingerprint, new_id

EVIDENCE = (
    Evidence(T0, "a.log", 1, 'first "one"'),
    Evidence(T0 + timedelta(seconds=1), None, None, None),
    Evidence(T0 + timedelta(microseconds=7), "b.log", 3, "caf\u00e9"),
)


def _text() -> EvidenceText:
    return EvidenceText(encode_evidence(EVIDENCE), len(EVIDENCE))


def test_evidence_text_reads_like_the_tuple_it_was_written_from() -> None:
    """Length, indexing, slicing, iteration and equality match the Evidence tuple."""
    text = _text()
    assert len(text) == 3
    assert text[1] == EVIDENCE[1]
    assert text[-1] == EVIDENCE[-1]
    assert text[:2] == EVIDENCE[:2]
    assert list(text) == list(EVIDENCE)
    assert text == EVIDENCE
    assert EVIDENCE == text  # noqa: SIM300 - the tuple's side of the comparison
    assert text != EVIDENCE[:2]
    assert hash(text) == hash(EVIDENCE)


def test_evidence_text_joins_a_tuple() -> None:
    """Adding evidence to an EvidenceText gives the tuple of both."""
    assert _text() + EVIDENCE[:1] == (*EVIDENCE, EVIDENCE[0])


def test_length_needs_no_decoding() -> None:
    """The length is the count given: the text is not read for it."""
    assert len(EvidenceText("not json", 4)) == 4
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        EvidenceText("not json", 4)[0]


def test_decoded_evidence_encodes_to_the_same_text() -> None:
    """Evidence decoded from a text keeps its time's text, so it is written back alike."""
    text = _text()
    assert encode_evidence(tuple(text)) == text.text
    assert encode_evidence(text) == text.text


def test_alert_with_evidence_text_equals_one_with_the_tuple() -> None:
    """An alert holding its evidence as text equals and encodes as the one holding objects."""
    a = replace(alert(), evidence=EVIDENCE)
    b = replace(a, evidence=_text())
    assert a == b
    assert encode(a) == encode(b)


def test_fingerprint_hashes_the_json_of_rule_and_sorted_entity() -> None:
    """Stored fingerprints depend on this exact text, for string and other values alike."""
    for entity in (
        {"source.ip": "203.0.113.7", "destination.ip": "198.51.100.10"},
        {"source.ip": "203.0.113.7", "destination.port": 22},
        {"user.name": 'r\u00f6ot "x"'},
        {},
    ):
        key = json.dumps(["ssh_bruteforce", sorted(entity.items())], default=str)
        assert (
            fingerprint("ssh_bruteforce", entity) == hashlib.sha256(key.encode()).hexdigest()[:32]
        )


def test_ids_are_unique_hex_and_ascend_within_a_process() -> None:
    """Ids look like uuid4().hex, never repeat, and a run's ids sort in creation order."""
    ids = [new_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert alert().id != alert().id


def test_a_forked_child_draws_its_own_ids() -> None:
    """A child process does not continue its parent's ids."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = new_id()
    assert len(child) == 32
    assert child[:24] != mine[:24]
