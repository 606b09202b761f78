"""Decoding JSON-lines text into polars struct columns, robust to hostile input.

polars decodes a whole column at once (`str.json_decode`) against one schema, and
fails the whole column on one bad row, on a key that is an object in one line and a
scalar in another, on an array mixing objects and scalars, or on a number beyond
1e308. So:

1. the chunk's schema is inferred from its text (polars' NDJSON reader, which
   materialises no row), checked against the guards below, and the chunk decoded in
   one call against it: the normal case;
2. if that fails, `json_path_match("$")` tells valid rows from invalid ones without
   failing (null for invalid);
3. the valid rows are grouped by structure (the line with every string and literal
   blanked out), so lines of one shape decode together, and a group that still fails
   is halved until its halves decode;
4. what polars cannot decode even in small parts (arrays mixing objects and scalars),
   the rows it calls invalid (`NaN`, 1e400) and rows with a lone surrogate escape are
   read by Python's `json` module, one `json.loads` per row: the rare case, so a loop
   is acceptable, and it reports the column of a syntax error. A row Python reads as
   an object becomes an event all the same, flattened in Python with every value as
   text, as polars would cast it: of duplicate keys the first wins (as in polars);
   integers with all their digits; numbers beyond a float's range and `NaN` as their
   text; a lone surrogate as U+FFFD (polars would make it NUL). What Python rejects is
   `invalid JSON at column N: ...`.

Depth guard: an object nested deeper than MAX_DEPTH containers (the line's own object
counts as one) is rejected in every path, so one hostile line cannot exhaust recursion,
and the answer does not depend on the lines around it.

Width guard: decoding costs rows x distinct fields (every row gets every field), so
a chunk where each line brings new keys (`{"user_123": ...}`) would take minutes and
gigabytes. A schema of more than MAX_KEYS fields is not decoded; the chunk's distinct
key names are then counted (one regex pass), and the lines that bring a key past the
first MAX_KEYS are rejected with a reason.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass

from vigil.parsers.base import REASON, empty_rejects
from vigil.schema.fields import F

DType = pl.DataType | DataTypeClass

JSON = "_json"
OBJ = "_obj"
MAX_DEPTH = 64
MAX_KEYS = 2048
NOT_OBJECT = "JSON value is not an object"
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels"
TOO_MANY_KEYS = f"JSON record brings a key beyond the {MAX_KEYS} distinct keys allowed per chunk"
# More structure groups than this and grouping buys nothing: halve instead.
MAX_GROUPS = 64
# A part this small that polars still cannot decode is read by Python instead.
PYTHON_ROWS = 8

_STRING = r'"(?:[^"\\]|\\.)*"'
_LITERAL = r"-?[0-9][0-9.eE+-]*|true|false|null"
_KEY = r'"((?:[^"\\]|\\.)*)"\s*:'
_SURROGATE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_SURROGATE_PAIR = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
# What a JSON text can start with; any other first character is a syntax error at 1.
_JSON_START = r'^[\[{"0-9tfn-]'


def decode_objects(objects: pl.DataFrame) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """`objects` has `log.file.line` and JSON text in `_json` (stripped, braced). Returns
    frames with `log.file.line` and a struct column `_obj`, and the rejects."""
    objects, lone = _split_lone_surrogates(objects)
    if objects.height == 0 and lone.height == 0:
        return [], empty_rejects()
    whole = _try_decode(objects) if lone.height == 0 else None
    if whole is not None:
        return [whole], empty_rejects()
    objects, too_wide = _within_key_limit(objects)
    ok = objects.select(pl.col(JSON).str.json_path_match("$").is_not_null()).to_series()
    invalid = pl.concat([objects.filter(~ok), lone])
    valid, too_deep = _split_deep(objects.filter(ok))
    parts, rejects = decode_in_python(invalid)
    all_parts = [] if parts is None else [parts]
    all_rejects = [too_wide, too_deep, rejects]
    for group in _groups(valid):
        got, bad = _halving(group)
        all_parts += got
        all_rejects.append(bad)
    return all_parts, pl.concat(all_rejects)


def not_json(rows: pl.DataFrame) -> pl.DataFrame:
    """Rejects for lines that cannot be a JSON object (not braced), with the reason
    Python's `json` gives; lines that cannot even start a JSON value skip Python."""
    hopeless = pl.col(JSON).str.contains(_JSON_START).not_()
    fast = rows.filter(hopeless).select(
        F.LOG_FILE_LINE, pl.lit("invalid JSON at column 1: Expecting value").alias(REASON)
    )
    _, slow = decode_in_python(rows.filter(~hopeless))
    return pl.concat([fast, slow])


def decode_in_python(rows: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """The rows polars cannot decode, one `json.loads` each: (a part of the objects,
    flattened to dotted text fields, or None; the rejects with Python's reason)."""
    lines: list[int] = []
    records: list[dict[str, str | None]] = []
    bad_lines: list[int] = []
    reasons: list[str] = []
    for line, text in rows.select(F.LOG_FILE_LINE, JSON).iter_rows():
        got = _read(text)
        if isinstance(got, str):
            bad_lines.append(line)
            reasons.append(got)
        else:
            lines.append(line)
            records.append(got)
    rejects = pl.DataFrame(
        {F.LOG_FILE_LINE: bad_lines, REASON: reasons},
        schema={F.LOG_FILE_LINE: pl.UInt64, REASON: pl.String},
    )
    if not records:
        return None, rejects
    names = dict.fromkeys(name for record in records for name in record)
    dtype = pl.Struct(dict.fromkeys(names, pl.String))
    part = pl.DataFrame(
        {
            F.LOG_FILE_LINE: pl.Series(lines, dtype=pl.UInt64),
            OBJ: pl.Series(records, dtype=dtype),
        }
    )
    return part, rejects


def struct_depth(dtype: DType) -> int:
    """Containers nested in a decoded dtype, itself included (iterative: the dtype of a
    hostile line can be deeper than Python's recursion limit)."""
    depth, level = 0, [dtype]
    while level:
        depth += 1
        level = [inner for d in level for inner in _inner(d) if _is_container(inner)]
    return depth


def leaf_count(dtype: DType) -> int:
    """Fields a decoded dtype flattens to (a list is one field)."""
    count, todo = 0, [dtype]
    while todo:
        d = todo.pop()
        if isinstance(d, pl.Struct):
            todo += [f.dtype for f in d.fields]
        else:
            count += 1
    return count


def _inner(dtype: DType) -> list[DType]:
    if isinstance(dtype, pl.Struct):
        return [f.dtype for f in dtype.fields]
    if isinstance(dtype, pl.List | pl.Array):
        return [dtype.inner]
    return []


def _is_container(dtype: DType) -> bool:
    return isinstance(dtype, pl.Struct | pl.List | pl.Array)


def _as_strings(dtype: DType) -> DType:
    """The schema with every integer field of an object as String. polars infers
    integer for a key holding integers in some lines and `true`/`false` in others, and
    would then turn `true` into 1; as String each value keeps its text, and integers
    beyond 64 bits keep every digit. (Floats stay floats: as String polars would spell
    1e300 with 300 digits.) Arrays keep their inferred element type."""
    if isinstance(dtype, pl.Struct):
        return pl.Struct([pl.Field(f.name, _as_strings(f.dtype)) for f in dtype.fields])
    return pl.String() if dtype.is_integer() else dtype


def _split_lone_surrogates(objects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, rows with a `\\uD800`-style escape that is not half of a pair). polars
    decodes a lone surrogate as NUL; Python's path gives U+FFFD, so they go there.
    Surrogate escapes are rare (emoji from an ASCII-only writer), so the exact check
    runs only when one cheap pass finds any."""
    if (
        objects.height == 0
        or not objects.select(pl.col(JSON).str.contains(_SURROGATE).any()).item()
    ):
        return objects, objects.clear()
    lone = pl.col(JSON).str.replace_all(_SURROGATE_PAIR, "").str.contains(_SURROGATE)
    mask = objects.select(lone).to_series()
    return objects.filter(~mask), objects.filter(mask)


def _within_key_limit(objects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows whose keys are among the chunk's first MAX_KEYS, rejects for the rest)."""
    keys = objects.get_column(JSON).str.extract_all(_KEY)
    distinct = keys.explode().drop_nulls().unique(maintain_order=True)
    if distinct.len() <= MAX_KEYS:
        return objects, empty_rejects()
    allowed = distinct.head(MAX_KEYS).to_list()
    fits = keys.list.eval(pl.element().is_in(allowed)).list.all()
    wide = objects.filter(~fits).select(F.LOG_FILE_LINE, pl.lit(TOO_MANY_KEYS).alias(REASON))
    return objects.filter(fits), wide


def _try_decode(part: pl.DataFrame) -> pl.DataFrame | None:
    """The part as one struct column, or None if polars fails on it, or if it is wider
    than MAX_KEYS fields or deeper than MAX_DEPTH (the slow path then finds which rows).
    The schema is inferred first, without decoding, so the guards run before any row
    is materialised."""
    texts = part.get_column(JSON)
    try:
        # polars infers a schema from text only through its NDJSON reader.
        ndjson = io.BytesIO(texts.str.join("\n").item().encode("utf-8"))
        schema = pl.Struct(pl.scan_ndjson(ndjson, infer_schema_length=None).collect_schema())
        if leaf_count(schema) > MAX_KEYS or struct_depth(schema) > MAX_DEPTH:
            return None
        decoded = texts.str.json_decode(dtype=_as_strings(schema))
    except pl.exceptions.PolarsError:
        return None
    return part.select(F.LOG_FILE_LINE, decoded.alias(OBJ))


def _split_deep(valid: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows nested at most MAX_DEPTH deep, rejects for the rest). The brackets outside
    strings, with innermost pairs peeled MAX_DEPTH times, leave something behind in a
    row nested deeper. Only a row with more than 2 * MAX_DEPTH brackets can be that
    deep, so the peeling runs on those alone."""
    brackets = pl.col(JSON).str.replace_all(_STRING, "").str.replace_all(r"[^\[\]{}]", "")
    many = valid.select(brackets.str.len_bytes() > 2 * MAX_DEPTH).to_series()
    if not many.any():
        return valid, empty_rejects()
    peeled = brackets
    for _ in range(MAX_DEPTH):
        peeled = peeled.str.replace_all(r"\{\}|\[\]", "")
    candidates = valid.filter(many)
    deep = candidates.select(peeled.str.len_bytes() > 0).to_series()
    too_deep = candidates.filter(deep).select(F.LOG_FILE_LINE, pl.lit(TOO_DEEP).alias(REASON))
    lines = too_deep.get_column(F.LOG_FILE_LINE)
    return valid.filter(~pl.col(F.LOG_FILE_LINE).is_in(lines.implode())), too_deep


def _groups(valid: pl.DataFrame) -> list[pl.DataFrame]:
    shape = pl.col(JSON).str.replace_all(_STRING, "s").str.replace_all(_LITERAL, "v")
    keyed = valid.with_columns(shape.alias("_shape"))
    if keyed.get_column("_shape").n_unique() > MAX_GROUPS:
        return [valid]
    return [g.drop("_shape") for g in keyed.partition_by("_shape", maintain_order=True)]


def _halving(group: pl.DataFrame) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    parts: list[pl.DataFrame] = []
    rejects = [empty_rejects()]
    todo = [group]
    while todo:
        part = todo.pop()
        decoded = _try_decode(part)
        if decoded is not None:
            parts.append(decoded)
        elif part.height > PYTHON_ROWS:
            half = part.height // 2
            todo += [part.slice(half), part.slice(0, half)]
        else:
            got, bad = decode_in_python(part)
            parts += [] if got is None else [got]
            rejects.append(bad)
    return parts, pl.concat(rejects)


def _read(text: str) -> dict[str, str | None] | str:
    """One line as flat text fields, or the reason it is not a JSON object."""
    try:
        value = json.loads(
            text, parse_float=_float, parse_constant=str, object_pairs_hook=_first_wins
        )
    except json.JSONDecodeError as e:
        return f"invalid JSON at column {e.colno}: {e.msg}"
    except RecursionError:
        return TOO_DEEP
    if not isinstance(value, dict):
        return NOT_OBJECT
    if _depth(value) > MAX_DEPTH:
        return TOO_DEEP
    flat: dict[str, str | None] = {}
    for name, leaf in _leaves(value, ""):
        # A name met twice (`{"a": {"b": 1}, "a.b": 2}`): the first non-null wins, as
        # when polars decodes the line.
        if flat.get(name) is None:
            flat[name] = leaf
    return flat


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Of duplicate keys the first wins, as in polars' decoding of the fast path.
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _float(text: str) -> float | str:
    # A number beyond a float's range keeps its text rather than becoming inf.
    value = float(text)
    return value if math.isfinite(value) else text


def _depth(value: dict[str, Any]) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[Any] = []
        for v in level:
            inner = v.values() if isinstance(v, dict) else v
            nxt += [x for x in inner if isinstance(x, dict | list)]
        level = nxt
    return depth


def _leaves(obj: dict[str, Any], prefix: str) -> Iterator[tuple[str, str | None]]:
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            yield from _leaves(value, name + ".")
        else:
            yield name, _as_text(value)


def _as_text(value: Any) -> str | None:
    """A JSON scalar or array as polars would cast it to a string."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    if text.isascii():
        return text
    # A lone surrogate (`"\ud800"`) cannot be UTF-8: it becomes one U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
