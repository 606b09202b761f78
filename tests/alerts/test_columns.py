"""Evidence written by polars: the text the Evidence encoder writes, odd values included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.alerts.factories import T0
from vigil.alerts.columns import evidence_texts
from vigil.alerts.documents import encode_evidence
from vigil.alerts.model import Evidence, EvidenceText

COLUMNS = ("ts", "path", "line", "message")
ODD = [
    'say "hi"',
    "back\\slash",
    "tab\there",
    "bell \x07 and del \x7f",
    "caf\u00e9",
    "\u4e2d\u6587",
    "\U0001f600 emoji",
    "",
    "</script>",
]


def _frame(events: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        events,
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "path": pl.String,
            "line": pl.UInt32,
            "message": pl.String,
        },
        orient="row",
    )


def _expected(events: list[tuple[Any, ...]], bounds: list[int]) -> list[str]:
    return [encode_evidence([Evidence(*e) for e in events[lo:hi]]) for lo, hi in pairwise(bounds)]


def _texts(frame: pl.DataFrame, bounds: list[int], **kwargs: Any) -> list[str]:
    out = evidence_texts(frame, COLUMNS, bounds, **kwargs)
    assert [len(e) for e in out] == [hi - lo for lo, hi in pairwise(bounds)]
    return [e.text for e in out]


def test_plain_events_read_as_the_evidence_encoder_writes_them() -> None:
    """Printable ASCII paths and messages, grouped per alert, give the encoder's text."""
    events = [(T0 + timedelta(seconds=n), "/var/log/auth.log", n, f"event {n}") for n in range(7)]
    bounds = [0, 3, 3, 7]
    assert _texts(_frame(events), bounds) == _expected(events, bounds)


def test_values_needing_escapes_are_escaped_as_json_does() -> None:
    """Quotes, backslashes, control characters and non-ASCII in a message or path."""
    events = [(T0, f"/logs/{m}.log", n, m) for n, m in enumerate(ODD)]
    events += [(T0, "plain.log", 99, "plain")]
    bounds = list(range(len(events) + 1))
    assert _texts(_frame(events), bounds) == _expected(events, bounds)


def test_nulls_are_written_null() -> None:
    """A null path, line or message is `null`; alerts without nulls keep their text."""
    events = [
        (T0, None, None, "no path"),
        (T0, "a.log", 1, None),
        (T0, "a.log", 2, 'with "quote"'),
        (T0, "a.log", 3, "fine"),
    ]
    bounds = [0, 2, 3, 4]
    assert _texts(_frame(events), bounds) == _expected(events, bounds)


def test_fractions_of_seconds_are_written_when_present() -> None:
    """Times with microseconds, found by the function or said by the caller."""
    events = [
        (T0 + timedelta(microseconds=1), "a.log", 1, "x"),
        (T0, "a.log", 2, "y"),
        (datetime(1999, 12, 31, 23, 59, 59, 120000, tzinfo=UTC), "a.log", 3, "z"),
    ]
    bounds = [0, 3]
    assert _texts(_frame(events), bounds) == _expected(events, bounds)
    assert _texts(_frame(events), bounds, whole_seconds=False) == _expected(events, bounds)


def test_rows_pick_and_order_the_events() -> None:
    """With `rows`, alert k's evidence is the rows picked, in the order picked."""
    events = [(T0 + timedelta(seconds=n), "a.log", n, f"m{n}") for n in range(6)]
    rows = np.array([4, 1, 5], dtype=np.int64)
    picked = [events[i] for i in rows]
    assert _texts(_frame(events), [0, 1, 3], rows=rows) == _expected(picked, [0, 1, 3])


def test_integer_microsecond_times_are_read_as_utc() -> None:
    """A time column of integer microseconds since the epoch is a UTC time."""
    frame = _frame([(T0, "a.log", 1, "x")]).with_columns(pl.col("ts").dt.epoch("us"))
    assert _texts(frame, [0, 1]) == _expected([(T0, "a.log", 1, "x")], [0, 1])


def test_texts_decode_into_the_evidence() -> None:
    """Each EvidenceText decodes into the Evidence objects it was written from."""
    events = [(T0, "a.log", 1, ODD[0]), (T0 + timedelta(seconds=1), None, 2, ODD[5])]
    (text,) = evidence_texts(_frame(events), COLUMNS, [0, 2])
    assert isinstance(text, EvidenceText)
    assert text == tuple(Evidence(*e) for e in events)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=12)),
            st.one_of(st.none(), st.integers(0, 2**31)),
            st.one_of(st.none(), st.text(max_size=40)),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 12),
)
def test_any_text_reads_as_the_encoder_writes_it(
    values: list[tuple[str | None, int | None, str | None, int]], cut: int
) -> None:
    """Whatever the paths and messages hold, the text equals the encoder's."""
    events = [(T0 + timedelta(microseconds=us), p, n, m) for p, n, m, us in values]
    bounds = [0, min(cut, len(events)), len(events)]
    assert _texts(_frame(events), bounds) == _expected(events, bounds)
