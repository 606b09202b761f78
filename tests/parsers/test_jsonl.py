"""The JSON-lines parser beyond its golden samples."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.samples import SAMPLES, load_sample
from vigil.parsers.base import LINE, REASON, ParseContext
from vigil.parsers.jsonl import JsonlParser
from vigil.parsers.jsonl_decode import MAX_KEYS, NOT_OBJECT, TOO_DEEP, TOO_MANY_KEYS
from vigil.pipeline.analyze import AnalyzeOptions, analyze, sniff
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

T1 = "2026-11-22T10:00:01Z"
WHEN = datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)


def _frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            LINE: pl.Series(lines, dtype=pl.String),
            F.LOG_FILE_LINE: pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True),
        }
    )


def _parse(
    lines: list[str], options: dict[str, str] | None = None, tz: str = "UTC"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    ctx = ParseContext(origin="app.json", tz=tz, options=options or {})
    result = parse_lines(JsonlParser(ctx), _frame(lines))
    return result.events, result.rejects


def _one(record: dict[str, Any], **kw: Any) -> dict[str, Any]:
    events, rejects = _parse([json.dumps(record)], **kw)
    assert rejects.height == 0, rejects.rows()
    return events.row(0, named=True)


def _reasons(rejects: pl.DataFrame) -> dict[int, str]:
    return dict(rejects.select(F.LOG_FILE_LINE, REASON).rows())


def test_nested_objects_flatten_to_dotted_names() -> None:
    """{"source": {"ip": ..}} becomes source.ip; keys already dotted keep their names."""
    row = _one({"@timestamp": T1, "source": {"ip": "203.0.113.7", "geo": {"cc": "NL"}}, "a.b": "x"})
    assert row[F.SOURCE_IP] == "203.0.113.7"
    assert row["source.geo.cc"] == "NL"
    assert row["a.b"] == "x"
    assert "source" not in row


def test_nested_and_dotted_spelling_of_one_field_first_non_null_wins() -> None:
    """When `a.b` is given nested and dotted, the first spelling wins unless it is null."""
    first = _one({"@timestamp": T1, "a.b": "dotted", "a": {"b": "nested"}})
    null_first = _one({"@timestamp": T1, "a.b": None, "a": {"b": "nested"}})
    assert first["a.b"] == "dotted"
    assert null_first["a.b"] == "nested"


def test_known_fields_take_their_schema_dtypes() -> None:
    """Ports and status codes given as strings become integers; a misfit becomes null."""
    row = _one(
        {
            "@timestamp": T1,
            "source.port": "4022",
            "destination": {"port": 99999999999},
            "http.response.status_code": 404,
            "process.pid": "12",
        }
    )
    assert row[F.SOURCE_PORT] == 4022
    assert row[F.DESTINATION_PORT] is None
    assert row[F.HTTP_RESPONSE_STATUS_CODE] == 404
    assert row[F.PROCESS_PID] == 12


def test_unknown_values_are_text_and_arrays_their_json() -> None:
    """Numbers and booleans of unknown fields become strings; arrays their JSON text."""
    row = _one({"@timestamp": T1, "n": 1.5, "ok": False, "tags": ["a", "b"], "ids": [1, 2]})
    assert (row["n"], row["ok"]) == ("1.5", "false")
    assert row["tags"] == '["a","b"]'
    assert row["ids"] == "[1,2]"


def test_a_boolean_stays_a_boolean_where_other_lines_hold_integers() -> None:
    """polars infers integer for a key holding 1 and true; the text must stay `true`."""
    events, _ = _parse([json.dumps({"@timestamp": T1, "k": v}) for v in (1, True, False, None)])
    assert events["k"].to_list() == ["1", "true", "false", None]


@pytest.mark.parametrize("neighbour", ['{"@timestamp":"2026-11-22T10:00:01Z"}', "not json"])
def test_integers_beyond_64_bits_keep_every_digit(neighbour: str) -> None:
    """A 40-digit integer is kept exactly, whether its chunk decodes fast or slowly."""
    big = "1234567890123456789012345678901234567890"
    events, _ = _parse([f'{{"@timestamp":"{T1}","n":{big}}}', neighbour])
    assert events.filter(pl.col(F.LOG_FILE_LINE) == 1)["n"].item() == big


@pytest.mark.parametrize("neighbour", ['{"@timestamp":"2026-11-22T10:00:01Z"}', "{broken"])
def test_duplicate_keys_first_wins_on_every_path(neighbour: str) -> None:
    """Of duplicate keys the first wins, with or without a bad line beside it."""
    dup = f'{{"@timestamp":"{T1}","user":{{"name":"alice"}},"user":{{"name":"mallory"}}}}'
    events, _ = _parse([dup, neighbour])
    assert events.filter(pl.col(F.LOG_FILE_LINE) == 1)[F.USER_NAME].item() == "alice"


def test_mixed_types_of_one_key_across_lines_do_not_fail_the_chunk() -> None:
    """A key that is a number, a string, an object, a mixed array and null in turn."""
    values: list[Any] = [7, "seven", {"code": 7}, [7, "seven", {"code": 7}], None, True]
    lines = [json.dumps({"@timestamp": T1, "detail": v}) for v in values]
    events, rejects = _parse(lines)
    assert rejects.height == 0
    assert events["detail"].to_list() == [
        "7",
        "seven",
        None,
        '[7,"seven",{"code":7}]',
        None,
        "true",
    ]
    assert events["detail.code"].to_list() == [None, None, "7", None, None, None]


def test_every_hostile_line_parses_the_same_alone_and_among_the_others() -> None:
    """A line's event or reject does not depend on the lines that share its chunk."""
    sample = load_sample(SAMPLES / "jsonl" / "hostile.log")
    events, rejects = _parse(sample.lines)
    together = {r[F.LOG_FILE_LINE]: r for r in events.iter_rows(named=True)}
    together_rejects = _reasons(rejects)
    for n, line in enumerate(sample.lines, start=1):
        alone_events, alone_rejects = _parse([line])
        if n in together_rejects:
            assert _reasons(alone_rejects) == {1: together_rejects[n]}, line
            continue
        alone = alone_events.row(0, named=True)
        expected = {k: v for k, v in together[n].items() if v is not None}
        expected[F.LOG_FILE_LINE] = 1
        assert {k: v for k, v in alone.items() if v is not None} == expected, line


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", NOT_OBJECT),
        ('"text"', NOT_OBJECT),
        ("null", NOT_OBJECT),
        ("{'a': 1}", "invalid JSON at column 2: Expecting property name"),
        ('{"a": 1,', "invalid JSON at column 9: Expecting property name"),
        ('{"a": "cut', "invalid JSON at column 7: Unterminated string"),
        ('{"a": 1} {"b": 2}', "invalid JSON at column 10: Extra data"),
        ('{"a": 01}', "invalid JSON at column 8: Expecting ',' delimiter"),
        ("\x16\x03\x01\x02\x00", "invalid JSON at column 1: Expecting value"),
        ('{"d":' + "[" * 64 + "]" * 64 + "}", TOO_DEEP),
        ('{"d":' + "{" * 2000, "invalid JSON at column"),
        ('{"d":' + '{"x":' * 5000 + "1" + "}" * 5001, TOO_DEEP),
    ],
)
def test_lines_that_are_not_json_objects_are_rejects_with_the_reason(
    line: str, reason: str
) -> None:
    """Non-objects, syntax errors (with their column), and nesting beyond the limit."""
    events, rejects = _parse([line])
    assert events.height == 0
    assert reason in _reasons(rejects)[1]


def test_nesting_up_to_the_limit_is_an_event() -> None:
    """64 levels of containers, the line's own object included, are accepted."""
    line = '{"@timestamp":"2026-11-22T10:00:01Z","d":' + "[" * 63 + "]" * 63 + "}"
    events, rejects = _parse([line])
    assert rejects.height == 0
    assert events["d"].item() == "[" * 63 + "]" * 63


def test_keys_beyond_the_chunk_limit_reject_only_the_lines_that_bring_them() -> None:
    """A chunk where every line invents keys: lines past MAX_KEYS distinct keys are
    rejected with the reason, the others parse."""
    lines = [json.dumps({"@timestamp": T1, f"k{i}": i}) for i in range(MAX_KEYS + 10)]
    events, rejects = _parse(lines)
    assert events.height == MAX_KEYS - 1  # @timestamp is one of the allowed keys
    assert set(_reasons(rejects).values()) == {TOO_MANY_KEYS}
    assert rejects.height == 11


def test_time_comes_from_the_first_readable_time_field() -> None:
    """@timestamp, then timestamp, time, ts: an unreadable one gives way to the next."""
    assert _one({"@timestamp": "soon", "timestamp": T1, "ts": 0})[F.TIMESTAMP] == WHEN
    assert _one({"time": T1, "ts": 1})[F.TIMESTAMP] == WHEN
    assert _one({"ts": 1795341601})[F.TIMESTAMP] == WHEN
    assert _one({"ts": 1795341601000})[F.TIMESTAMP] == WHEN
    assert _one({"ts": "1795341601.0"})[F.TIMESTAMP] == WHEN


def test_a_record_without_a_readable_time_is_rejected() -> None:
    """No time field, or none readable: the pipeline rejects the record."""
    events, rejects = _parse(['{"message":"x"}', '{"ts":"yesterday"}', '{"time":[1]}'])
    assert events.height == 0
    assert set(_reasons(rejects).values()) == {"missing or invalid timestamp"}


def test_timestamp_options_name_the_field_its_format_and_zone() -> None:
    """timestamp_field, timestamp_format and tz read a time vigil could not guess."""
    record = {"@timestamp": "2000-01-01T00:00:00Z", "logged": "22/11/2026 11:00:01"}
    options = {"timestamp_field": "logged", "timestamp_format": "%d/%m/%Y %H:%M:%S"}
    row = _one(record, options={**options, "tz": "Europe/Berlin"})
    assert row[F.TIMESTAMP] == WHEN
    assert row["logged"] == "22/11/2026 11:00:01"


def test_naive_times_are_local_to_the_context_zone() -> None:
    """A time without a zone is in --tz; one with a zone keeps it."""
    assert _one({"time": "2026-11-22 11:00:01"}, tz="Europe/Berlin")[F.TIMESTAMP] == WHEN
    assert _one({"time": "2026-11-22T10:00:01+00:00"}, tz="Europe/Berlin")[F.TIMESTAMP] == WHEN


def test_dataset_is_the_records_own_or_jsonl() -> None:
    """event.dataset from the record where it has one, `jsonl` otherwise."""
    events, _ = _parse(
        [
            json.dumps({"@timestamp": T1, "event": {"dataset": "nginx.access"}}),
            json.dumps({"@timestamp": T1, "event": {"dataset": None}}),
            json.dumps({"@timestamp": T1}),
        ]
    )
    assert events[F.EVENT_DATASET].to_list() == ["nginx.access", "jsonl", "jsonl"]


def test_the_record_cannot_set_where_it_came_from() -> None:
    """log.file.line and log.file.path are vigil's, whatever the record says."""
    record = {"@timestamp": T1, "log": {"file": {"line": 99, "path": "/etc/shadow"}}}
    events, _ = _parse(["{}", json.dumps(record)])
    assert events[F.LOG_FILE_LINE].to_list() == [2]
    assert F.LOG_FILE_PATH not in events.columns


def test_events_keep_line_order_when_lines_take_different_paths() -> None:
    """Lines decoded by polars and by Python come out in line order."""
    lines = [
        json.dumps({"@timestamp": T1, "a": 1}),
        f'{{"@timestamp":"{T1}","a":1e400}}',
        "garbage",
        json.dumps({"@timestamp": T1, "a": {"b": 1}}),
        json.dumps({"@timestamp": T1, "a": [1, {"b": 2}]}),
        json.dumps({"@timestamp": T1, "a": "x"}),
    ]
    events, rejects = _parse(lines)
    assert events[F.LOG_FILE_LINE].to_list() == [1, 2, 4, 5, 6]
    assert events["a"].to_list() == ["1", "1e400", None, '[1,{"b":2}]', "x"]
    assert list(_reasons(rejects)) == [3]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=12))
def test_truncated_and_spliced_lines_never_raise_and_are_all_accounted(cuts: list[int]) -> None:
    """Valid lines cut anywhere: every line is an event or a reject, nothing raises."""
    whole = (SAMPLES / "jsonl" / "ecs.log").read_text(encoding="utf-8").splitlines()
    records = [ln for ln in whole if not ln.startswith("#! ")]
    lines = [records[i % len(records)][:cut] or "{" for i, cut in enumerate(cuts)]
    events, rejects = _parse(lines)
    assert events.height + rejects.height == len(lines)


def test_random_json_values_never_raise() -> None:
    """Random nested JSON with random types: every line is accounted for."""
    rng = random.Random(20261122)

    def value(depth: int) -> Any:
        kind = rng.randrange(7 if depth < 5 else 4)
        scalars: list[Any] = [None, True, rng.randint(-(2**70), 2**70), rng.random() * 1e300]
        if kind < 4:
            return scalars[kind]
        if kind == 4:
            return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(8)))
        if kind == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice("abc.d"): value(depth + 1) for _ in range(rng.randrange(4))}

    lines = [json.dumps({"ts": 1795341601, "v": value(0), "w": value(0)}) for _ in range(300)]
    events, rejects = _parse(lines)
    assert events.height == 300, rejects.rows()[:3]


def test_sniff_tells_json_lines_from_access_logs(tmp_path: Path) -> None:
    """JSON lines are sniffed as jsonl, an access log as apache."""
    ctx = ParseContext(origin="x")
    json_head = [json.dumps({"@timestamp": T1, "message": f"m{i}"}) for i in range(5)]
    access = [
        f'203.0.113.{i} - - [22/Nov/2026:10:00:0{i} +0000] "GET / HTTP/1.1" 200 5 "-" "-"'
        for i in range(5)
    ]
    jsonl = sniff(json_head, ctx)
    apache = sniff(access, ctx)
    assert jsonl is not None and jsonl.name == "jsonl"
    assert apache is not None and apache.name == "apache"


def test_analyze_reads_a_json_lines_file_end_to_end(tmp_path: Path) -> None:
    """`vigil analyze` on an eve.json-shaped file: format, events and rejects counted."""
    path = tmp_path / "eve.json"
    good = {"timestamp": "2026-11-22T10:00:01.000000+0000", "event_type": "alert"}
    path.write_text(json.dumps(good) + "\n" + "{truncated\n" + json.dumps(good) + "\n")
    report = analyze([str(path)], AnalyzeOptions())
    file_report = report.files[0]
    assert (file_report.format, file_report.parsed, file_report.rejected) == ("jsonl", 2, 1)
    assert list(file_report.reject_reasons) == [
        "invalid JSON at column 2: Expecting property name enclosed in double quotes"
    ]
