"""A rule's carried rows as one polars frame (laid out as `rows.schema`) and back.

The live daemon stores the newest row of each decided episode with every checkpoint and
puts these markers back after a restart (`live.replay`); it reads and writes them as
such a frame, text included, whatever the rows look like in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from vigil.detect.correlation import rows as R
from vigil.detect.correlation.carried import Carried
from vigil.detect.correlation.intake import RuleColumns
from vigil.detect.correlation.spec import CorrelationKind, CorrelationSpec
from vigil.detect.correlation.texts import TextStore


def text_names(
    spec: CorrelationSpec, columns: RuleColumns, *, value: bool
) -> list[tuple[str, str]]:
    """(frame column, store column) of the rule's group-by values (and counted value)."""
    names = list(zip(R.group_columns(spec), columns.groups, strict=True))
    if value and columns.value is not None:
        names.append((R.V, columns.value))
    return names


def to_frame(
    spec: CorrelationSpec, columns: RuleColumns, held: Carried, texts: TextStore
) -> pl.DataFrame:
    """The carried rows with their text, laid out as `rows.schema(spec)`."""
    view = texts.view(text_names(spec, columns, value=True))
    text = view[pl.Series(held.ids)] if held.size else view.clear()
    cols: dict[str, Any] = {R.H: held.bucket(), R.TS: held.ts, R.W: held.w}
    cols.update({g: text.get_column(g) for g in R.group_columns(spec)})
    if spec.kind is CorrelationKind.VALUE_COUNT:
        cols[R.V] = text.get_column(R.V)
    elif spec.kind is not CorrelationKind.EVENT_COUNT:
        cols[R.V] = held.v
    cols.update({c: text.get_column(c) for c in (R.PATH, R.LINE, R.MSG)})
    cols.update({R.DONE: held.done, R.PEAK: held.peak, R.PEAK_AT: held.peak_at})
    return pl.DataFrame(cols).select(pl.col(c).cast(t) for c, t in R.schema(spec).items())


def from_frame(
    spec: CorrelationSpec, columns: RuleColumns, frame: pl.DataFrame, texts: TextStore
) -> Carried:
    """Carried rows made of a frame laid out as `rows.schema(spec)`, its text stored."""
    frame = frame.select(R.schema(spec).keys())
    names = text_names(spec, columns, value=True)
    part = frame.select(
        R.TS, R.PATH, R.LINE, R.MSG, *(pl.col(name).alias(col) for name, col in names)
    )
    ids = texts.append(part)
    stored = [col for _, col in names]
    if not texts.accept(texts.pairs(part, stored)):
        texts.reseed()
    hashed = part.select(texts.hash(pl.col(c)).alias(c) for c in stored)
    if columns.value is not None:
        v = hashed.get_column(columns.value).to_numpy().view(np.int64)
    elif spec.kind is CorrelationKind.EVENT_COUNT:
        v = np.zeros(frame.height, dtype=np.int64)
    else:
        v = frame.get_column(R.V).to_numpy()
    return Carried(
        keys=tuple(hashed.get_column(c).to_numpy() for c in columns.groups),
        ts=frame.get_column(R.TS).to_numpy(),
        w=frame.get_column(R.W).to_numpy(),
        v=v,
        ids=ids,
        done=frame.get_column(R.DONE).to_numpy(),
        peak=frame.get_column(R.PEAK).to_numpy(),
        peak_at=frame.get_column(R.PEAK_AT).to_numpy(),
    )
