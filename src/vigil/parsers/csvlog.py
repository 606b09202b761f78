"""CSV logs with a header line (the `csv` format).

The first line of the file is the header; every other line is one record with as many
fields as the header has names. A field may be quoted (`"a, b"`, `""` for a quote
inside); blanks around a field are dropped, and an empty field is null. A record
cannot span lines. The header line where it repeats later (concatenated exports) is
skipped like the first.

Each column becomes a field: the one `--map COLUMN=FIELD` names (COLUMN as written in
the header or normalised), else its normalised header name: lower case, other runs
than letters, digits, `_`, `.` and `@` as `_` (`Source IP` → `source_ip`; a header
already in ECS names, `source.ip`, needs no map). Known fields are cast to the schema's
dtypes (`source.port` to an integer, null where it does not fit); every other value
stays a string. A column that would become `log.file.line` or `log.file.path` is left
out: those are vigil's. Two columns mapped to one field: the first non-null wins.
`event.dataset` is `csv` unless a column maps to it.

`@timestamp` comes from the `timestamp_column` option, else the columns mapped to
`@timestamp`, else the columns named one of `TIME_COLUMNS` (`@timestamp`, `timestamp`,
`time`, `ts`, `datetime`, `date`, in this order): the first that holds a readable time,
as ISO 8601 / RFC 3339 or epoch seconds/ms/µs/ns (see `timestamps`). Without a time
column every record is rejected with a reason that says how to name one.

Parser options (`--parser-option KEY=VALUE`, or vigil.yaml
`parsers: {csv: {map: {COLUMN: FIELD}, options: {KEY: VALUE}}}`):
  `delimiter`         one character, or `tab`; default: whichever of `,` `;` tab `|`
                      splits the header into the most names;
  `timestamp_column`  the time column; `date,time` joins several with a space;
  `timestamp_format`  a strftime format for it (`%d/%m/%Y %H:%M:%S`), instead of guessing;
  `tz`                zone of times without one (default: `--tz`, else UTC);
  `columns`           `name1,name2,...`: the file has no header line, these are its
                      names (the delimiter is then `,` unless the option names one).
And `map.COLUMN` = FIELD for each `--map COLUMN=FIELD`.

Rejects: a record with another number of fields than the header (`wrong number of
fields: 5, the header has 7`), a field that opens a quote and does not close it,
records without a readable time, and every record of a file whose header has more than
256 columns (`MAX_COLUMNS`).

Sniffing is strict, so csv never takes a file another parser reads: the first line
must be a header of two or more distinct identifier-like names with a time column
among them, a record counts only when it has a readable time, and the score is half
the share of such records, so any parser that reads at least half as many lines wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import polars as pl

from vigil.parsers.base import LINE, REASON, LineParser, ParseContext, ParseResult, empty_rejects
from vigil.parsers.csv_layout import (
    Layout,
    delimiter_option,
    detect_delimiter,
    escape,
    layout_of,
    looks_like_header,
    split_fields,
)
from vigil.parsers.timestamps import DType, first_times
from vigil.schema.fields import DTYPES, F

DATASET = "csv"
SNIFF_WEIGHT = 0.5
UNBALANCED = "a quoted field does not end with its quote"

_FIELD = "_f"  # prefix of the per-column working columns


class CsvParser(LineParser):
    name = "csv"
    summary = "CSV with a header line; columns mapped to fields with --map COLUMN=FIELD"
    patterns: ClassVar[dict[str, str]] = {
        "header": r'^\s*"?[A-Za-z_@][\w.@ -]*"?\s*(?:[,;\t|]\s*"?[A-Za-z_@][\w.@ -]*"?\s*)+$',
        "quoted_field": r'(?:^|[,;\t|])\s*"(?:[^"]|"")*[,;\t|](?:[^"]|"")*"\s*(?:[,;\t|]|$)',
        "escaped_quote": r'"(?:[^"]|"")*""(?:[^"]|"")*"',
    }
    priority = -10
    option_names = frozenset(
        {"delimiter", "columns", "timestamp_column", "timestamp_format", "tz", "map."}
    )

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        super().check_options(options)
        delimiter_option(options.get("delimiter"))

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self._delimiter = delimiter_option(ctx.options.get("delimiter"))
        self._layout: Layout | None = None
        columns = ctx.options.get("columns")
        if columns:
            names = [c.strip() for c in columns.split(",")]
            self._layout = layout_of(names, self._delimiter or ",", None, ctx.options)

    @classmethod
    def sniffed(cls, frame: pl.DataFrame, ctx: ParseContext) -> tuple[float, pl.DataFrame]:
        """Half the share of records with a readable time, behind a header that looks
        like one; 0 for anything else."""
        if frame.height < 2:
            return 0.0, pl.DataFrame()
        header = frame.get_column(LINE)[0].lstrip("\ufeff")
        if not looks_like_header(split_fields(header, detect_delimiter(header))):
            return 0.0, pl.DataFrame()
        result = cls(ctx).parse(frame)
        timed = result.events.filter(pl.col(F.TIMESTAMP).is_not_null()).height
        return SNIFF_WEIGHT * timed / max(frame.height - result.skipped, 1), result.events

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        skipped = 0
        if self._layout is None:
            if frame.height == 0:
                return ParseResult(_no_events(), empty_rejects())
            header = frame.get_column(LINE)[0].lstrip("\ufeff")
            delimiter = self._delimiter or detect_delimiter(header)
            names = split_fields(header, delimiter)
            self._layout = layout_of(names, delimiter, header, self.ctx.options)
            frame = frame.slice(1)
            skipped = 1
        layout = self._layout
        if layout.header is not None:
            repeat = pl.col(LINE) == layout.header
            skipped += int(frame.select(repeat.sum()).item())
            frame = frame.filter(~repeat)
        if layout.problem is not None:
            # No record can be read: say why on each line, not "invalid time".
            reason = pl.lit(layout.problem).alias(REASON)
            return ParseResult(_no_events(), frame.select(F.LOG_FILE_LINE, reason), skipped)
        values, rejects = _split(frame, layout)
        return ParseResult(self._events(values, layout), rejects, skipped)

    def _events(self, values: pl.DataFrame, layout: Layout) -> pl.DataFrame:
        by_field: dict[str, list[pl.Expr]] = {}
        for i, field in enumerate(layout.fields):
            if field is not None and field != F.TIMESTAMP:
                by_field.setdefault(field, []).append(pl.col(f"{_FIELD}{i}"))
        exprs = [_typed(field, cols) for field, cols in by_field.items()]
        dataset = pl.lit(DATASET)
        if F.EVENT_DATASET in by_field:
            dataset = pl.coalesce(_typed(F.EVENT_DATASET, by_field[F.EVENT_DATASET]), dataset)
            exprs = [e for f, e in zip(by_field, exprs, strict=True) if f != F.EVENT_DATASET]
        exprs += [dataset.alias(F.EVENT_DATASET), pl.lit(self._timestamp(values, layout))]
        return values.select(*exprs, pl.col(F.LOG_FILE_LINE))

    def _timestamp(self, values: pl.DataFrame, layout: Layout) -> pl.Series:
        sources: list[tuple[pl.Expr, DType]] = []
        for source in layout.time_sources:
            parts = [pl.col(f"{_FIELD}{i}") for i in source]
            text = parts[0] if len(parts) == 1 else pl.concat_str(parts, separator=" ")
            sources.append((text, pl.String()))
        tz = self.ctx.options.get("tz", self.ctx.tz)
        return first_times(values, sources, tz, self.ctx.options.get("timestamp_format"))


def _split(frame: pl.DataFrame, layout: Layout) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-column values (`_f0`, `_f1`, ...) of the records, and the rejects. Lines
    without a quote are split natively; the others go through the record regex."""
    d = layout.delimiter
    quoted = pl.col(LINE).str.contains('"', literal=True)
    plain = frame.filter(~quoted)
    parts = pl.col(LINE).str.split(d, inclusive=False)
    plain = plain.with_columns(parts.alias("_parts"))
    count = pl.col("_parts").list.len()
    fits = plain.filter(count == layout.width)
    plain_values = fits.select(
        pl.col(F.LOG_FILE_LINE),
        *[
            _clean(pl.col("_parts").list.get(i), layout, False).alias(f"{_FIELD}{i}")
            for i in range(layout.width)
        ],
    )
    miscounted = plain.filter(count != layout.width).select(
        pl.col(F.LOG_FILE_LINE), _wrong_count(count, layout)
    )
    with_quotes = frame.filter(quoted)
    groups = pl.col(LINE).str.extract_groups(layout.record_regex())
    matched = with_quotes.with_columns(groups.alias("_g"))
    ok = pl.col("_g").struct.field("1").is_not_null()
    quoted_values = matched.filter(ok).select(
        pl.col(F.LOG_FILE_LINE),
        *[
            _clean(pl.col("_g").struct.field(str(i + 1)), layout, True).alias(f"{_FIELD}{i}")
            for i in range(layout.width)
        ],
    )
    bad = matched.filter(~ok).select(pl.col(F.LOG_FILE_LINE), _why_not(layout))
    values = pl.concat([plain_values, quoted_values]).sort(F.LOG_FILE_LINE)
    return values, pl.concat([empty_rejects(), miscounted, bad]).sort(F.LOG_FILE_LINE)


def _clean(raw: pl.Expr, layout: Layout, may_be_quoted: bool) -> pl.Expr:
    """A raw field as its value: blanks dropped, quotes undone, empty as null."""
    text = raw.str.strip_chars(layout.blanks)
    if may_be_quoted:
        inner = text.str.slice(1, text.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
        text = pl.when(text.str.starts_with('"')).then(inner).otherwise(text)
    return pl.when(text.str.len_bytes() > 0).then(text)


def _wrong_count(count: pl.Expr, layout: Layout) -> pl.Expr:
    return pl.format(
        "wrong number of fields: {}, the header has {}", count, pl.lit(layout.width)
    ).alias(REASON)


def _why_not(layout: Layout) -> pl.Expr:
    """Why a line with quotes is not a record: its field count (quoted delimiters not
    counted), or an unbalanced quote."""
    unquoted = pl.col(LINE).str.replace_all(layout.quoted_regex(), "q")
    count = unquoted.str.count_matches(escape(layout.delimiter)) + 1
    return (
        pl.when(count != layout.width)
        .then(_wrong_count(count, layout))
        .otherwise(pl.lit(UNBALANCED))
        .alias(REASON)
    )


def _typed(field: str, columns: list[pl.Expr]) -> pl.Expr:
    value = columns[0] if len(columns) == 1 else pl.coalesce(columns)
    return value.cast(DTYPES.get(field, pl.String()), strict=False).alias(field)


def _no_events() -> pl.DataFrame:
    return pl.DataFrame(schema={F.TIMESTAMP: DTYPES[F.TIMESTAMP], F.LOG_FILE_LINE: pl.UInt64()})
