"""The CSV parser beyond its golden samples."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.samples import SAMPLES, load_sample
from vigil.errors import UsageError
from vigil.parsers.base import LINE, REASON, ParseContext, ParseResult
from vigil.parsers.csv_layout import MAX_COLUMNS
from vigil.parsers.csvlog import UNBALANCED, CsvParser
from vigil.pipeline.analyze import AnalyzeOptions, analyze, sniff
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

WHEN = datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)
T1 = "2026-11-22T10:00:01Z"


def _frame(lines: list[str], first: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {
            LINE: pl.Series(lines, dtype=pl.String),
            F.LOG_FILE_LINE: pl.int_range(first, first + len(lines), dtype=pl.UInt64, eager=True),
        }
    )


def _parse(lines: list[str], options: dict[str, str] | None = None) -> ParseResult:
    parser = CsvParser(ParseContext(origin="export.csv", options=options or {}))
    return parse_lines(parser, _frame(lines))


def _reasons(result: ParseResult) -> dict[int, str]:
    return dict(result.rejects.select(F.LOG_FILE_LINE, REASON).rows())


def test_the_header_is_read_from_the_first_chunk_only() -> None:
    """One parser per file: its second chunk starts with a record, not a header."""
    parser = CsvParser(ParseContext(origin="export.csv"))
    first = parse_lines(parser, _frame(["time,src", f"{T1},203.0.113.1"]))
    second = parse_lines(parser, _frame([f"{T1},203.0.113.2", f"{T1},203.0.113.3"], first=3))
    assert (first.skipped, first.events["src"].to_list()) == (1, ["203.0.113.1"])
    assert second.skipped == 0
    assert second.events["src"].to_list() == ["203.0.113.2", "203.0.113.3"]
    assert second.events[F.LOG_FILE_LINE].to_list() == [3, 4]


def test_quoted_fields_hold_delimiters_and_doubled_quotes() -> None:
    """RFC 4180 quoting on one line: `"a, b"`, `""` for a quote, blanks around ignored."""
    result = _parse(["time,a,b,c", f'{T1}, "x, y" ,"say ""hi""",""'])
    row = result.events.row(0, named=True)
    assert (row["a"], row["b"], row["c"]) == ("x, y", 'say "hi"', None)


def test_a_quote_inside_an_unquoted_field_is_a_character() -> None:
    """Only a field that starts with a quote is quoted."""
    row = _parse(["time,ua", f'{T1},Mozilla "compatible" x']).events.row(0, named=True)
    assert row["ua"] == 'Mozilla "compatible" x'


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"{T1},1", "wrong number of fields: 2, the header has 3"),
        (f"{T1},1,2,3", "wrong number of fields: 4, the header has 3"),
        (f'{T1},"1,2",3,4', "wrong number of fields: 4, the header has 3"),
        (f'{T1},"1', "wrong number of fields: 2, the header has 3"),
        (f'{T1},"1,2', UNBALANCED),
        (f'{T1},"1"2,3', UNBALANCED),
    ],
)
def test_records_of_another_shape_are_rejects_with_the_reason(line: str, reason: str) -> None:
    """Field counts (quoted delimiters not counted) and broken quoting are rejects."""
    result = _parse(["time,a,b", line])
    assert result.events.height == 0
    assert _reasons(result) == {2: reason}


def test_columns_map_by_written_or_normalised_name_and_others_are_normalised() -> None:
    """--map takes the name as written or normalised; unmapped names are normalised,
    empty ones numbered, repeated ones suffixed."""
    options = {"map.Source IP": "source.ip", "map.dst_port": "destination.port"}
    result = _parse(["Time,Source IP,Dst Port,User Name,,note,Note", f"{T1},a,22,b,c,d,e"], options)
    row = result.events.row(0, named=True)
    assert row[F.SOURCE_IP] == "a"
    assert row[F.DESTINATION_PORT] == 22
    assert (row["user_name"], row["column_5"], row["note"], row["note_2"]) == ("b", "c", "d", "e")


def test_two_columns_mapped_to_one_field_first_non_null_wins() -> None:
    """src and client both map to source.ip: the first that has a value."""
    options = {"map.src": "source.ip", "map.client": "source.ip"}
    result = _parse(
        ["time,src,client", f"{T1},203.0.113.1,203.0.113.2", f"{T1},,203.0.113.3"], options
    )
    assert result.events[F.SOURCE_IP].to_list() == ["203.0.113.1", "203.0.113.3"]


def test_known_fields_are_cast_and_vigils_own_fields_left_out() -> None:
    """Ports become integers (null when they do not fit); log.file.line stays vigil's."""
    result = _parse(["time,source.port,log.file.line,log.file.path", f"{T1},99999999999,7,/x"])
    row = result.events.row(0, named=True)
    assert row[F.SOURCE_PORT] is None
    assert row[F.LOG_FILE_LINE] == 2
    assert F.LOG_FILE_PATH not in result.events.columns


def test_dataset_is_csv_unless_a_column_maps_to_it() -> None:
    """event.dataset from a mapped column, `csv` where it is empty or absent."""
    mapped = _parse(["time,kind", f"{T1},vpn", f"{T1},"], {"map.kind": "event.dataset"})
    plain = _parse(["time,kind", f"{T1},vpn"])
    assert mapped.events[F.EVENT_DATASET].to_list() == ["vpn", "csv"]
    assert plain.events[F.EVENT_DATASET].to_list() == ["csv"]


@pytest.mark.parametrize(
    ("header", "record", "options"),
    [
        ("when,x", "2026-11-22T11:00:01+01:00,1", {"map.when": "@timestamp"}),
        (
            "when,x",
            "22/11/2026 11:00:01,1",
            {
                "timestamp_column": "when",
                "timestamp_format": "%d/%m/%Y %H:%M:%S",
                "tz": "Europe/Berlin",
            },
        ),
        (
            "date,time,x",
            "2026-11-22,11:00:01,1",
            {"timestamp_column": "date,time", "tz": "Europe/Berlin"},
        ),
        ("x,Timestamp", "1,1795341601", {}),
        ("ts,time", "1795341601000,10:00:01", {}),
    ],
)
def test_the_time_comes_from_the_option_the_map_or_a_time_named_column(
    header: str, record: str, options: dict[str, str]
) -> None:
    """timestamp_column (several joined by a space), a map to @timestamp, or the first
    column named like a time, with format and zone options."""
    result = _parse([header, record], options)
    assert result.rejects.height == 0, result.rejects.rows()
    assert result.events[F.TIMESTAMP].to_list() == [WHEN]


def test_a_missing_time_column_rejects_every_record_with_how_to_fix_it() -> None:
    """No time column, or a named one that is not there: every record says why."""
    none = _parse(["src,dst", "a,b"])
    wrong = _parse(["src,dst", "a,b"], {"timestamp_column": "when"})
    assert "--parser-option timestamp_column=NAME" in _reasons(none)[2]
    assert _reasons(wrong) == {2: "timestamp column 'when' is not in the header"}


def test_a_header_wider_than_the_limit_rejects_every_record() -> None:
    """Thousands of columns would need a regex polars refuses: the records say why."""
    header = "time," + ",".join(f"c{i}" for i in range(MAX_COLUMNS))
    result = _parse([header, f'{T1},"a"' + ",b" * (MAX_COLUMNS - 1)])
    assert _reasons(result) == {
        2: f"the header has {MAX_COLUMNS + 1} columns, more than the {MAX_COLUMNS} allowed"
    }


def test_a_header_at_the_limit_reads_quoted_records() -> None:
    """MAX_COLUMNS columns, quoted fields among them, still parse."""
    header = "time," + ",".join(f"c{i}" for i in range(MAX_COLUMNS - 1))
    result = _parse([header, f'{T1},"a,1"' + ",b" * (MAX_COLUMNS - 2)])
    assert result.rejects.height == 0
    assert result.events["c0"].to_list() == ["a,1"]


@pytest.mark.parametrize(
    ("header", "option", "delimiter"),
    [
        ("time;src;dst", None, ";"),
        ("time\tsrc\tdst", None, "\t"),
        ("time | src | dst", None, "|"),
        ("time\tsrc\tdst", "tab", "\t"),
        ("time\tsrc\tdst", "\\t", "\t"),
        ("time#src#dst", "#", "#"),
    ],
)
def test_the_delimiter_is_detected_or_named(
    header: str, option: str | None, delimiter: str
) -> None:
    """Without the option, the candidate that splits the header most; with it, that one."""
    options = {} if option is None else {"delimiter": option}
    record = delimiter.join([T1, "203.0.113.1", "198.51.100.1"])
    result = _parse([header, record], options)
    assert result.rejects.height == 0, result.rejects.rows()
    assert result.events["src"].to_list() == ["203.0.113.1"]


@pytest.mark.parametrize("value", [",,", "a", '"', "7"])
def test_an_unusable_delimiter_option_is_a_usage_error(value: str) -> None:
    """A delimiter that is not one usable character stops with a one-line error."""
    with pytest.raises(UsageError, match="csv delimiter must be one character"):
        CsvParser(ParseContext(origin="x", options={"delimiter": value}))


def test_the_columns_option_reads_a_file_without_header() -> None:
    """With `columns`, the first line is a record too."""
    result = _parse([f"{T1},203.0.113.1", f"{T1},203.0.113.2"], {"columns": "time, src"})
    assert result.skipped == 0
    assert result.events["src"].to_list() == ["203.0.113.1", "203.0.113.2"]


def test_a_repeated_header_and_a_byte_order_mark_are_skipped() -> None:
    """Concatenated exports repeat the header: skipped like the first (BOM and all)."""
    result = _parse(["\ufefftime,src", f"{T1},a", "time,src", f"{T1},b"])
    assert result.skipped == 2
    assert result.events["src"].to_list() == ["a", "b"]


def test_records_keep_line_order_across_quoted_and_plain_lines() -> None:
    """Lines split natively and lines read by the record regex come out in order."""
    lines = ["time,a", f'{T1},"q1"', f"{T1},p2", f"{T1},x,y", f'{T1},"q4"', f"{T1},p5"]
    result = _parse(lines)
    assert result.events["a"].to_list() == ["q1", "p2", "q4", "p5"]
    assert result.events[F.LOG_FILE_LINE].to_list() == [2, 3, 5, 6]
    assert list(_reasons(result)) == [4]


def test_random_lines_never_raise_and_are_all_accounted() -> None:
    """Random bytes, quotes and delimiters: every line is an event or a reject."""
    rng = random.Random(1122)
    alphabet = ['"', ",", ";", " ", "\t", "a", "1", "\\", "\ufffd", "é", "\x1b"]
    lines = ["time,a,b"] + [
        T1 + "".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(500)
    ]
    result = _parse(lines)
    assert result.events.height + result.rejects.height == 500


def test_sniff_leaves_other_formats_to_their_parsers() -> None:
    """Over every golden sample of the other parsers, csv is never the sniffed format."""
    ctx = ParseContext(origin="x")
    for path in sorted(SAMPLES.glob("*/*.log")):
        if path.parent.name == "csv":
            continue
        lines = [ln for ln in load_sample(path).lines if ln.strip()]
        chosen = sniff(lines, ctx)
        assert chosen is None or chosen.name != "csv", path


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["time,src,dst", f"{T1},a,b"], "csv"),
        (["src,dst", "a,b"], None),  # no time column
        (["time,source ip (v4),dst", f"{T1},a,b"], None),  # not identifier-like
        (["time,time,dst", f"{T1},a,b"], None),  # repeated names
        (["time", T1], None),  # one column is no table
        (["time,src,dst", "yesterday,a,b"], None),  # no readable time
    ],
)
def test_sniff_wants_a_header_of_names_and_timed_records(
    lines: list[str], expected: str | None
) -> None:
    """A strict sniff: identifier-like distinct names, a time column, readable times."""
    chosen = sniff(lines, ParseContext(origin="x"))
    assert (chosen.name if chosen else None) == expected


def test_options_come_from_the_config_and_the_command_line(tmp_path: Path) -> None:
    """vigil.yaml's `parsers: {csv: ...}` and --map/--parser-option reach the parser,
    the command line winning."""
    path = tmp_path / "export.csv"
    path.write_text(f"when;src;port\n{T1};203.0.113.1;22\n")
    options = AnalyzeOptions(
        format="csv",
        format_options={
            "csv": {"delimiter": ";", "map.src": "user.name", "map.when": "@timestamp"}
        },
        parser_options={"map.src": "source.ip", "map.port": "source.port"},
    )
    seen: list[pl.DataFrame] = []

    class Keep:
        def consume(self, batch: pl.DataFrame) -> None:
            seen.append(batch)

        def close(self) -> None:
            """Every batch is kept as it comes."""

    report = analyze([str(path)], options, sinks=[Keep()])
    assert (report.files[0].parsed, report.files[0].rejected) == (1, 0)
    row = seen[0].row(0, named=True)
    assert (row[F.SOURCE_IP], row[F.SOURCE_PORT], row[F.TIMESTAMP]) == ("203.0.113.1", 22, WHEN)
    assert row[F.USER_NAME] is None
