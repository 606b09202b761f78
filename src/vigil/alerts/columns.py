"""Alert evidence written as JSON text by polars, for all the alerts of a batch at once.

The text is the one `documents.encode_evidence` writes for `Evidence` objects (so the
store, the shelf and the report cannot tell how it was made), but built by one string
expression over the evidence columns: an alert then costs no Python object per
evidence event, and a batch of alerts one polars query.

The expression puts paths and messages between quotes as they are, which is what
json.dumps writes for printable ASCII without quotes or backslashes. Whether an
alert's text holds anything else is checked on the finished text (C string methods,
~1 us an alert), and such an alert, rare, is written by the `Evidence` encoder.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from vigil.alerts.documents import encode_evidence
from vigil.alerts.model import Evidence, EvidenceText, iso_texts

# Bytes json.dumps writes as they are inside a string: printable ASCII but the quote
# (counted instead: the text has its own) and the backslash.
_AS_IS = bytes(range(0x20, 0x7F)).replace(b"\\", b"")
# Quotes in one event's text when its path and message are not null.
_QUOTES = 14


def evidence_texts(
    frame: pl.DataFrame,
    columns: tuple[str, str, str, str],
    bounds: Sequence[int],
    *,
    rows: np.ndarray[Any, np.dtype[np.int64]] | None = None,
    whole_seconds: bool | None = None,
) -> list[EvidenceText]:
    """The evidence of alerts from the events of `frame` (or its `rows`, in that order):
    alert k's are events `bounds[k]:bounds[k + 1]`. `columns` name each event's time
    (a UTC datetime or integer microseconds, never null), file path, line and message.
    `whole_seconds`: whether every time is known to have no fraction of a second."""
    # One query each, to gather and to write: a call can be small, and a polars query
    # costs ~0.1 ms whatever its size.
    picked = frame if rows is None else frame.gather(pl.Series(rows, dtype=pl.Int64))
    ts, path, line, message = _typed(*columns)
    if whole_seconds is None:
        whole_seconds = not picked.select((ts.dt.microsecond() != 0).any()).item()
    nulls = picked.get_column(columns[1]).null_count() + picked.get_column(columns[3]).null_count()
    items: list[str] = (
        picked.select(_item(*columns, bool(nulls), whole_seconds)).to_series().to_list()
    )
    quotes = np.diff(np.asarray(bounds, dtype=np.int64)) * _QUOTES
    if nulls:
        # A null path or message is written `null`: two quotes less.
        missing = (
            picked.select(
                (path.is_null().cast(pl.Int64) + message.is_null().cast(pl.Int64)).cum_sum()
            )
            .to_series()
            .to_numpy()
        )
        ends = np.concatenate([[0], missing])[np.asarray(bounds, dtype=np.int64)]
        quotes -= 2 * np.diff(ends)
    out = []
    events: pl.DataFrame | None = None
    for (lo, hi), expected in zip(pairwise(bounds), quotes.tolist(), strict=True):
        text = f"[{', '.join(items[lo:hi])}]"
        if not (
            text.isascii()
            and not text.encode().translate(None, _AS_IS)
            and text.count('"') == expected
        ):
            if events is None:
                events = picked.select(ts, path, line, message)
            text = encode_evidence([Evidence(*e) for e in events.slice(lo, hi - lo).iter_rows()])
        out.append(EvidenceText(text, hi - lo))
    return out


@functools.cache
def _typed(ts: str, path: str, line: str, message: str) -> tuple[pl.Expr, ...]:
    """The columns as the event's time (UTC), path, line and message."""
    return (
        pl.col(ts).cast(pl.Datetime("us", "UTC")),
        pl.col(path).cast(pl.String),
        pl.col(line).cast(pl.Int64),
        pl.col(message).cast(pl.String),
    )


@functools.cache
def _item(ts: str, path: str, line: str, message: str, nulls: bool, whole: bool) -> pl.Expr:
    """Each event's JSON text, for paths and messages that need no escapes (built once
    per set of names: an alert call can be small, and building costs more than using)."""
    time, where, number, text = _typed(ts, path, line, message)
    iso = time.dt.to_string("%Y-%m-%dT%H:%M:%SZ") if whole else iso_texts(time)
    line_text = number.cast(pl.String).fill_null("null")
    if nulls:
        parts = ['{"@timestamp": "', iso, '", "log.file.path": ', _quoted(where)]
        parts += [', "log.file.line": ', line_text, ', "message": ', _quoted(text), "}"]
    else:
        parts = ['{"@timestamp": "', iso, '", "log.file.path": "', where, '", "log.file.line": ']
        parts += [line_text, ', "message": "', text, '"}']
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])


def _quoted(text: pl.Expr) -> pl.Expr:
    """A string between quotes, "null" for a null."""
    return pl.concat_str(pl.lit('"'), text, pl.lit('"')).fill_null("null")
