"""The JSON decoding helpers of the jsonl parser."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import assume, given
from hypothesis import strategies as st

from vigil.parsers.base import REASON
from vigil.parsers.jsonl_decode import (
    JSON,
    OBJ,
    decode_in_python,
    decode_objects,
    leaf_count,
    not_json,
    struct_depth,
)
from vigil.schema.fields import F


def _rows(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            F.LOG_FILE_LINE: pl.int_range(1, len(texts) + 1, dtype=pl.UInt64, eager=True),
            JSON: pl.Series(texts, dtype=pl.String),
        }
    )


def test_struct_depth_and_leaf_count_measure_a_decoded_schema() -> None:
    """Containers nested (the object itself included) and the fields it flattens to."""
    dtype = pl.Struct({"a": pl.Int64, "b": pl.Struct({"c": pl.List(pl.List(pl.Int64))})})
    assert struct_depth(dtype) == 4
    assert leaf_count(dtype) == 2
    assert struct_depth(pl.Struct({})) == 1


def test_struct_depth_of_a_very_deep_schema_does_not_recurse() -> None:
    """A dtype thousands of levels deep is measured without hitting the recursion limit."""
    dtype: pl.DataType = pl.Int64()
    for _ in range(5000):
        dtype = pl.Struct({"x": dtype})
    assert struct_depth(dtype) == 5000


def test_python_reading_flattens_like_polars_and_keeps_values_as_text() -> None:
    """Nested keys dotted, first of duplicates, arrays as compact JSON, scalars as text."""
    text = '{"a":{"b":true},"n":null,"l":[1,"x"],"d":1,"d":2,"f":1.5,"big":1e999,"c":NaN}'
    part, rejects = decode_in_python(_rows([text]))
    assert rejects.height == 0
    assert part is not None
    row = part.get_column(OBJ).to_list()[0]
    assert row == {
        "a.b": "true",
        "n": None,
        "l": '[1,"x"]',
        "d": "1",
        "f": "1.5",
        "big": "1e999",
        "c": "NaN",
    }


def test_fast_path_and_python_path_give_the_same_text() -> None:
    """One object decoded by polars (alone) and by Python gives the same values."""
    record = {"a": {"b": True, "c": [1, 2]}, "n": 12345678901234567890123, "s": "ü", "f": 2.5}
    text = json.dumps(record, ensure_ascii=False)
    fast, _ = decode_objects(_rows([text]))
    slow, _ = decode_in_python(_rows([text]))
    assert slow is not None
    fast_row = fast[0].get_column(OBJ).to_list()[0]
    flat = {
        "a.b": str(fast_row["a"]["b"]).lower(),
        "a.c": json.dumps(fast_row["a"]["c"], separators=(",", ":")),
        "n": fast_row["n"],
        "s": fast_row["s"],
        "f": str(fast_row["f"]),
    }
    assert slow.get_column(OBJ).to_list()[0] == flat


@given(st.text(min_size=1).filter(lambda t: t.strip() and t.strip()[0] not in '[{"-0123456789tfn'))
def test_the_shortcut_reason_is_the_one_python_gives(text: str) -> None:
    """A line that cannot start a JSON value gets Python's own reason without Python."""
    stripped = text.strip()
    rejects = not_json(_rows([stripped]))
    try:
        json.loads(stripped)
    except json.JSONDecodeError as e:
        expected = f"invalid JSON at column {e.colno}: {e.msg}"
    else:  # Python reads NaN and Infinity, which JSON does not have
        assume(False)
    assert rejects.get_column(REASON).to_list() == [expected]
