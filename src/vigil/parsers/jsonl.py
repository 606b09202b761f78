"""JSON lines: one JSON object per line (ECS JSON, Suricata eve.json, Zeek JSON logs,
application logs).

Nested objects are flattened to dotted names (`{"source": {"ip": ..}}` → `source.ip`);
keys that are already dotted stay as they are, so ECS input keeps its names, nested or
dotted. When a nested and a dotted key give the same name, the first in the object wins
where it is not null; of duplicate keys, the first wins. Values of known fields are cast
to the schema's dtypes (`"443"` → 443 for `source.port`; a value that does not fit, such
as a port of 99999999999, becomes null); every other value becomes a string, as the
Batch schema wants, and arrays become their JSON text (`["a","b"]`), so a column has
one type in every batch. Empty objects leave no field.

`@timestamp` is read from the first of `TIME_FIELDS` that holds a readable time
(ISO 8601 / RFC 3339, or epoch seconds/ms/µs/ns; see `timestamps`). So ECS records use
`@timestamp`, Suricata eve.json `timestamp` and Zeek `ts`. `event.dataset` is the
record's own, or `jsonl`. `message` is the record's own, if any; `log.file.path` and
`log.file.line` are always vigil's. Mapping the fields of eve.json or Zeek to ECS is
not done here: their fields keep their own names (`src_ip`, `id.orig_h`).

Parser options (`--parser-option KEY=VALUE`, or `parsers: {jsonl: {options: ...}}`):
  `timestamp_field`   the field that holds the time, instead of TIME_FIELDS;
  `timestamp_format`  a strftime format for it (`%d/%m/%Y %H:%M:%S`), instead of guessing;
  `tz`                zone of times without one (default: `--tz`, else UTC).

Rejects (see `jsonl_decode`): a line that is not JSON (`invalid JSON at column N:
...`, the column counted from the line's first non-blank character), JSON that is not
an object, objects nested deeper than 64 levels, and lines bringing a key beyond the
per-chunk limit of distinct keys. A record without a readable time is rejected by the
pipeline. Integers keep every digit, also beyond 64 bits; numbers beyond a float's
range (1e400) and NaN keep their text.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from vigil.parsers.base import LINE, LineParser, ParseResult
from vigil.parsers.jsonl_decode import JSON, OBJ, DType, decode_objects, not_json
from vigil.parsers.timestamps import first_times
from vigil.schema.fields import DTYPES, F

TIME_FIELDS = ("@timestamp", "timestamp", "time", "ts")
DATASET = "jsonl"

# Names the parser sets itself; a record's own values for them are dropped.
_OWN = frozenset({F.LOG_FILE_LINE, F.LOG_FILE_PATH})


class JsonlParser(LineParser):
    name = "jsonl"
    summary = "JSON lines: one object per line, flattened to dotted field names"
    patterns: ClassVar[dict[str, str]] = {
        "object": r"^\s*\{.*\}\s*$",
        "nested_object": r'^\s*\{.*"\s*:\s*\{',
        "array_value": r'^\s*\{.*"\s*:\s*\[',
        "epoch_ts": r'"ts"\s*:\s*[0-9]',
    }
    priority = 30
    option_names = frozenset({"timestamp_field", "timestamp_format", "tz"})
    # An object line starts with `{` (after white space).
    sniff_requires = r"\{"

    def parse(self, frame: pl.DataFrame) -> ParseResult:
        text = pl.col(LINE).str.strip_prefix("\ufeff").str.strip_chars()
        lines = frame.select(pl.col(F.LOG_FILE_LINE), text.alias(JSON))
        braced = pl.col(JSON).str.starts_with("{") & pl.col(JSON).str.ends_with("}")
        others = lines.filter(~braced)
        parts, rejects = decode_objects(lines.filter(braced))
        events = [self._events(part) for part in parts]
        all_rejects = pl.concat([rejects, not_json(others)])
        if not events:
            schema = {F.TIMESTAMP: DTYPES[F.TIMESTAMP], F.LOG_FILE_LINE: pl.UInt64()}
            return ParseResult(pl.DataFrame(schema=schema), all_rejects)
        if len(events) == 1:
            return ParseResult(events[0], all_rejects)
        return ParseResult(pl.concat(events, how="diagonal").sort(F.LOG_FILE_LINE), all_rejects)

    def _events(self, part: pl.DataFrame) -> pl.DataFrame:
        """Flat columns of one decoded part, typed, with @timestamp."""
        columns = _flatten(pl.col(OBJ), part.schema[OBJ], "")
        options = self.ctx.options
        wanted = options.get("timestamp_field")
        time_fields = (wanted,) if wanted else TIME_FIELDS
        tz = options.get("tz", self.ctx.tz)
        fmt = options.get("timestamp_format")
        sources = [
            columns[name]
            for name in time_fields
            if name in columns and not isinstance(columns[name][1], pl.List | pl.Array)
        ]
        exprs = [
            _typed(name, expr, dtype)
            for name, (expr, dtype) in columns.items()
            if name != F.TIMESTAMP  # replaced by the parsed one
        ]
        exprs.append(pl.lit(first_times(part, sources, tz, fmt)))
        if F.EVENT_DATASET not in columns:
            exprs.append(pl.lit(DATASET).alias(F.EVENT_DATASET))
        exprs.append(pl.col(F.LOG_FILE_LINE))
        out = part.select(exprs)
        if F.EVENT_DATASET in columns:
            out = out.with_columns(pl.col(F.EVENT_DATASET).fill_null(DATASET))
        return out


def _flatten(expr: pl.Expr, dtype: DType, prefix: str) -> dict[str, tuple[pl.Expr, DType]]:
    """Dotted name → (expression, dtype) for every leaf of a struct column. A name met
    twice (`{"a": {"b": 1}, "a.b": 2}`) coalesces, the first met first."""
    out: dict[str, tuple[pl.Expr, DType]] = {}
    assert isinstance(dtype, pl.Struct)
    for field in dtype.fields:
        name = prefix + field.name
        value = expr.struct.field(field.name)
        if isinstance(field.dtype, pl.Struct):
            leaves = _flatten(value, field.dtype, name + ".")
        else:
            leaves = {name: (value, field.dtype)}
        for leaf, (leaf_expr, leaf_dtype) in leaves.items():
            if leaf in _OWN:
                continue
            if leaf in out:
                merged = pl.coalesce(_text(*out[leaf]), _text(leaf_expr, leaf_dtype))
                out[leaf] = (merged, pl.String())
            else:
                out[leaf] = (leaf_expr, leaf_dtype)
    return out


def _typed(name: str, expr: pl.Expr, dtype: DType) -> pl.Expr:
    """A flat value as its schema dtype: known fields cast, anything else as text."""
    wanted = DTYPES.get(name)
    if wanted is not None and not isinstance(dtype, pl.List | pl.Array):
        return expr.cast(wanted, strict=False).alias(name)
    return _text(expr, dtype).cast(wanted or pl.String(), strict=False).alias(name)


def _text(expr: pl.Expr, dtype: DType) -> pl.Expr:
    """A value as a string; arrays as their JSON text."""
    if isinstance(dtype, pl.List | pl.Array):
        encoded = pl.struct(expr.alias("v")).struct.json_encode()
        text = encoded.str.strip_prefix('{"v":').str.strip_suffix("}")
        return pl.when(expr.is_not_null()).then(text)
    return expr.cast(pl.String)
