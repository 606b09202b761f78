"""Timestamps of syslog headers: the yearless BSD form and the ISO/RFC 3339 form.

A BSD timestamp (`Nov 22 10:00:01`) has no year. The year of the first one comes from
`ctx.year` if given, else from the file's mtime (or `ctx.now` for stdin): the year of
the mtime, or the year before when the first line would otherwise lie more than a day
after the file was last written. From there, every drop of more than six months between
consecutive lines (December → January) starts the next year, and every rise of more than
six months (a late line from before the new year) goes back one. A `YearTracker` lives
for one file and carries that state from chunk to chunk, so the roll-over is found even
when December and January fall in different chunks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from vigil.parsers.base import ENGINE, ParseContext, by_runs, localize
from vigil.schema.fields import TIMESTAMP_DTYPE

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name: i + 1 for i, name in enumerate(MONTHS)}
# A month jump larger than this between consecutive lines is a year boundary.
ROLLOVER_MONTHS = 6
# A first line this far after the file's mtime belongs to the year before.
MTIME_SLACK = timedelta(days=1)
_BSD_FORMAT = "%Y %b %d %H:%M:%S%.f"
_BSD_WHOLE = "%Y %b %d %H:%M:%S"
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


class YearTracker:
    """Assigns years to the BSD timestamps of one file, chunk after chunk, in order."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.year: int | None = None
        self.last_month: int | None = None

    def resolve(self, bsd: pl.Series, given_year: pl.Series | None = None) -> pl.Series:
        """UTC timestamps for BSD timestamp texts (`Nov 22 10:00:01[.123]`) in line order.

        `given_year` holds a year the line itself carries (`2015 Nov 13 ...`), else null
        (or is None);
        such lines keep their year and do not move the tracker. Null texts stay null.
        """
        if given_year is not None and given_year.null_count() < given_year.len():
            return self._resolve(bsd, given_year.cast(pl.Int32))
        # The year steps between runs of equal stamps as between lines.
        return by_runs(
            bsd,
            lambda texts: self._resolve(
                texts, pl.repeat(None, texts.len(), dtype=pl.Int32, eager=True)
            ),
        )

    def _resolve(self, bsd: pl.Series, given_year: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"bsd": bsd, "given": given_year})
        month = (
            pl.col("bsd")
            .str.slice(0, 3)
            .replace_strict(_MONTH_NUMBER, default=None, return_dtype=pl.Int32)
        )
        frame = frame.with_columns(pl.when(pl.col("given").is_null()).then(month).alias("month"))
        tracked = frame.get_column("month").drop_nulls()
        if tracked.len() and self.year is None:
            first = frame.filter(pl.col("month").is_not_null()).item(0, "bsd")
            self.year = self._first_year(first)
            self.last_month = int(tracked[0])
        if tracked.len():
            assert self.year is not None
            assert self.last_month is not None
            before = pl.col("month").forward_fill().shift(1).fill_null(self.last_month)
            step = pl.col("month") - before
            shift = (step < -ROLLOVER_MONTHS).cast(pl.Int32) - (step > ROLLOVER_MONTHS).cast(
                pl.Int32
            )
            frame = frame.with_columns((shift.fill_null(0).cum_sum() + self.year).alias("year"))
            self.year = int(frame.item(-1, "year"))
            self.last_month = int(tracked[-1])
            year = pl.coalesce("given", pl.when(pl.col("month").is_not_null()).then("year"))
        else:
            year = pl.col("given")
        text = pl.concat_str([year.cast(pl.String), pl.col("bsd")], separator=" ")
        # Parsing optional fractions costs twice as much; most files have none.
        fractions = bool(frame.select(pl.col("bsd").str.len_bytes().max() > 15).item())
        naive = text.str.strptime(
            pl.Datetime("us"), _BSD_FORMAT if fractions else _BSD_WHOLE, strict=False
        )
        return frame.lazy().select(localize(naive, self.ctx.tz)).collect(engine=ENGINE).to_series()

    def _first_year(self, first: str) -> int:
        if self.ctx.year is not None:
            return self.ctx.year
        written = self.ctx.mtime or self.ctx.now
        local = written.astimezone(ZoneInfo(self.ctx.tz))
        whole_seconds = " ".join(first.split(".", maxsplit=1)[0].split())
        try:
            candidate = datetime.strptime(f"{local.year} {whole_seconds}", "%Y %b %d %H:%M:%S")
        except ValueError:
            # Feb 29 in a year that has none: compare by month only.
            month = _MONTH_NUMBER.get(first[:3], 1)
            return local.year - 1 if month > local.month else local.year
        if candidate.replace(tzinfo=local.tzinfo) > local + MTIME_SLACK:
            return local.year - 1
        return local.year


def iso_timestamp(text: pl.Expr, offset: pl.Expr, tz: str) -> pl.Expr:
    """UTC timestamps from ISO/RFC 3339 texts (`2026-11-22T10:00:01[.123]`) and their
    offset (`Z`, `+01:00`, `+0100`, or null for local time in `tz`)."""
    normal = offset.str.replace(r"^([+-]\d\d)(\d\d)$", "$1:$2").str.replace(
        "Z", "+00:00", literal=True
    )
    body = text.str.replace(",", ".", literal=True)
    zoned = (body + normal).str.strptime(TIMESTAMP_DTYPE, _ISO_FORMAT, strict=False)
    naive = body.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False)
    return (
        pl.when(offset.is_null())
        .then(localize(naive, tz))
        .otherwise(zoned.dt.convert_time_zone("UTC"))
    )
