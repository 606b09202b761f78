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
    ts_name, path_name, line_name, message_name = columns

    at = None if rows is None else pl.Series(rows, dtype=pl.Int64)

    def pick(column: str, dtype: pl.DataType) -> pl.Expr:
        expr = pl.col(column).cast(dtype)
        return expr if at is None else expr.gather(at)

    ts = pick(ts_name, pl.Datetime("us", "UTC"))
    path, line, message = (
        pick(path_name, pl.String()),
        pick(line_name, pl.Int64()),
        pick(message_name, pl.String()),
    )
    if whole_seconds is None:
        whole_seconds = not frame.select((ts.dt.microsecond() != 0).any()).item()
    # Nulls anywhere in the columns (not only in the rows picked): the slower form.
    nulls = frame.get_column(path_name).null_count() + frame.get_column(message_name).null_count()
    iso = ts.dt.to_string("%Y-%m-%dT%H:%M:%SZ") if whole_seconds else iso_texts(ts)
    number = line.cast(pl.String).fill_null("null")
    if nulls:
        parts = ['{"@timestamp": "', iso, '", "log.file.path": ', _quoted(path)]
        parts += [', "log.file.line": ', number, ', "message": ', _quoted(message), "}"]
    else:
        parts = ['{"@timestamp": "', iso, '", "log.file.path": "', path, '", "log.file.line": ']
        parts += [number, ', "message": "', message, '"}']
    exprs = [pl.lit(p) if isinstance(p, str) else p for p in parts]
    items: list[str] = frame.select(pl.concat_str(exprs)).to_series().to_list()
    quotes = np.diff(np.asarray(bounds, dtype=np.int64)) * _QUOTES
    if nulls:
        # A null path or message is written `null`: two quotes less.
        missing = (
            frame.select(
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
                events = frame.select(ts, path, line, message)
            text = encode_evidence([Evidence(*e) for e in events.slice(lo, hi - lo).iter_rows()])
        out.append(EvidenceText(text, hi - lo))
    return out


def _quoted(text: pl.Expr) -> pl.Expr:
    """A string between quotes, "null" for a null."""
    return pl.concat_str(pl.lit('"'), text, pl.lit('"')).fill_null("null")
