"""Correlation evidence: written as text in polars, the same text as its Evidence objects."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from tests.detect.test_correlation_engine import (
    ATTACKER,
    BRUTE,
    OTHER,
    USERS_PER_SOURCE,
    at,
    engine,
    rows,
    run,
)
from vigil.alerts.documents import encode_evidence
from vigil.alerts.model import Evidence, EvidenceText
from vigil.detect.correlation.evidence import alerts_for

ODD = ['user "root"', "C:\\temp", "tab\tand\x01", "r\u00f6ot \U0001f600", "plain"]


def _expected(frame: pl.DataFrame, lines: list[int]) -> str:
    """The Evidence encoder's text of the events of `frame` at these 1-based lines."""
    picked = frame.filter(pl.col("log.file.line").is_in(lines)).sort("log.file.line")
    cols = ("@timestamp", "log.file.path", "log.file.line", "message")
    return encode_evidence([Evidence(*r) for r in picked.select(cols).iter_rows()])


def test_event_count_evidence_is_the_encoders_text_with_odd_messages() -> None:
    """Quotes, backslashes, control characters and non-ASCII read as json.dumps has them."""
    frame = rows([0, 1, 2, 3, 4], message=ODD)
    (alert,) = run(engine(), {"ssh_failed": frame})
    assert isinstance(alert.evidence, EvidenceText)
    assert alert.evidence.text == _expected(frame, [1, 2, 3, 4, 5])
    assert [e.message for e in alert.evidence] == ODD


def test_alerts_of_one_call_each_get_their_own_events() -> None:
    """Two sources' alerts built together keep their own events, with sub-second times."""
    mine = rows([0, 1, 2, 3, 4 + 1e-8])
    theirs = rows([0.5, 1.5, 2.5, 3.5, 4.5], OTHER, first_line=6, path="other.log")
    frame = pl.concat([mine, theirs]).with_columns(
        pl.col("@timestamp") + pl.duration(microseconds=pl.col("log.file.line"))
    )
    alerts = sorted(run(engine(), {"ssh_failed": frame}), key=lambda a: a.entity["source.ip"])
    assert [a.entity["source.ip"] for a in alerts] == sorted([ATTACKER, OTHER])
    by_ip = {a.entity["source.ip"]: a for a in alerts}
    assert by_ip[ATTACKER].evidence.text == _expected(frame, [1, 2, 3, 4, 5])  # type: ignore[attr-defined]
    assert by_ip[OTHER].evidence.text == _expected(frame, [6, 7, 8, 9, 10])  # type: ignore[attr-defined]


def test_value_count_evidence_is_the_first_event_of_each_value() -> None:
    """value_count keeps the first event of each distinct value, as text."""
    frame = rows([0, 1, 2, 3], **{"user.name": ["a", "a", "b", "c"]})
    (alert,) = run(engine(USERS_PER_SOURCE), {"ssh_failed": frame})
    assert alert.evidence.text == _expected(frame, [1, 3, 4])  # type: ignore[attr-defined]


def test_no_rows_no_alerts() -> None:
    """An empty selection of firing rows builds no alert (and reads no column)."""
    spec = engine().specs[0]
    empty = np.array([], dtype=np.int64)
    assert alerts_for(spec, None, empty, 20) == []  # type: ignore[arg-type]


def test_alert_times_are_the_window_bounds() -> None:
    """first_seen and last_seen are the first and last event of the firing window."""
    (alert,) = run(engine(), {"ssh_failed": rows([0, 2, 4, 6, 8, 30])})
    assert (alert.first_seen, alert.last_seen) == (at(0), at(0) + timedelta(minutes=8))


def test_correlation_alert_carries_the_rules_author() -> None:
    """A correlation's `author:` is on its alerts, as plain rules' alerts carry theirs."""
    text = BRUTE.replace("level: high", "level: high\nauthor: vigil", 1)
    (alert,) = run(engine(text), {"ssh_failed": rows([0, 1, 2, 3, 4])})
    assert alert.author == "vigil"
