"""Sigma value matching: every modifier, wildcards, case, null/exists, numbers, CIDR."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import polars as pl
import pytest

from tests.detect.sigma_util import compiled, field_hits, hits, unsupported


def test_plain_value_is_whole_value_case_insensitive() -> None:
    """A plain string equals the whole field, ignoring case."""
    rows = ["admin", "ADMIN", "administrator", "the admin", None]
    assert field_hits("user.name", "Admin", rows) == [True, True, False, False, False]


def test_cased_modifier_matches_case() -> None:
    """`cased` makes the comparison case-sensitive."""
    rows = ["admin", "Admin", "ADMIN"]
    assert field_hits("user.name|cased", "Admin", rows) == [False, True, False]


def test_cased_contains_keeps_case() -> None:
    """`cased` combines with `contains`."""
    rows = ["run Mimikatz now", "run mimikatz now"]
    assert field_hits("message|contains|cased", "Mimikatz", rows) == [True, False]


@pytest.mark.parametrize(
    ("modifier", "expected"),
    [
        ("contains", [True, True, True, True, False]),
        ("startswith", [True, False, False, True, False]),
        ("endswith", [False, False, True, True, False]),
    ],
)
def test_contains_startswith_endswith(modifier: str, expected: list[bool]) -> None:
    """contains/startswith/endswith place the value anywhere / at the start / at the end."""
    rows = ["evil.exe -x", "an EVIL thing", "very evil", "evil", "good"]
    assert field_hits(f"message|{modifier}", "evil", rows) == expected


def test_value_list_is_or() -> None:
    """A list of values matches when any value matches."""
    rows = ["GET", "post", "PUT"]
    assert field_hits("http.request.method", ["GET", "POST"], rows) == [True, True, False]


def test_all_modifier_is_and() -> None:
    """`all` requires every value of the list."""
    rows = ["curl http://x | sh", "curl http://x", "sh only"]
    assert field_hits("message|contains|all", ["curl", "| sh"], rows) == [True, False, False]


def test_long_contains_list_uses_one_test() -> None:
    """A long contains list behaves as OR of the substrings (merged into one pass)."""
    values = [f"needle{i}" for i in range(40)]
    rows = ["has NEEDLE39 in it", "has needle7", "no match", None]
    assert field_hits("message|contains", values, rows) == [True, True, False, False]


def test_long_value_lists_stay_case_insensitive() -> None:
    """Lists too long for one regex (hash lists, IOC lists) still ignore case, Unicode too."""
    hashes = [f"{i:032x}" for i in range(100)]
    words = [f"wörd{i}" for i in range(100)]
    eq = field_hits("file.hash.md5", hashes, [hashes[42].upper(), "0" * 31 + "g"])
    contains = field_hits("message|contains", words, ["x WÖRD77 y", "word77"])
    ascii_contains = field_hits("message|contains", hashes, [f"x{hashes[7].upper()}y", "z"])
    assert (eq, contains, ascii_contains) == ([True, False], [True, False], [True, False])


@pytest.mark.parametrize("modifier", ["startswith", "endswith"])
def test_prefix_and_suffix_lists(modifier: str) -> None:
    """Lists of prefixes or suffixes match any of them, escaped as literals."""
    rows = ["a.b", "(x)", "a.bc", "zz"]
    got = field_hits(f"message|{modifier}", ["a.b", "(x)"], rows)
    assert got == (
        [True, True, True, False] if modifier == "startswith" else [True, True, False, False]
    )


@pytest.mark.parametrize(
    ("pattern", "rows", "expected"),
    [
        ("a*c", ["ac", "abbbc", "ABC", "abd", "xac"], [True, True, True, False, False]),
        ("a?c", ["abc", "ac", "abbc", "a\nc"], [True, False, False, True]),
        ("*.exe", ["cmd.EXE", "cmd.exe.txt"], [True, False]),
        ("C:\\\\*\\cmd.exe", ["c:\\windows\\cmd.exe", "d:\\x\\cmd.exe"], [True, False]),
        ("C:\\*", ["c:*", "c:\\x"], [True, False]),
        ("*a*b*", ["xaxbx", "ba"], [True, False]),
        ("*", ["", "anything"], [True, True]),
    ],
)
def test_wildcards(pattern: str, rows: list[str], expected: list[bool]) -> None:
    """`*` matches any run of characters, `?` exactly one (newlines too)."""
    assert field_hits("message", pattern, rows) == expected


def test_wildcard_star_does_not_match_null() -> None:
    """`*` needs a value: a null field does not match it."""
    assert field_hits("message", "*", [None, "x"]) == [False, True]


@pytest.mark.parametrize(
    ("pattern", "rows", "expected"),
    [
        ("what\\?", ["what?", "whatx"], [True, False]),
        ("a\\*b", ["a*b", "axxb"], [True, False]),
        ("a\\\\*", ["a\\", "a\\xyz", "ab"], [True, True, False]),
        ("c:\\windows", ["C:\\Windows", "c:/windows"], [True, False]),
    ],
)
def test_escapes(pattern: str, rows: list[str], expected: list[bool]) -> None:
    """A backslash escapes `*`, `?` and itself; other backslashes are literal."""
    assert field_hits("message", pattern, rows) == expected


def test_regex_is_case_sensitive_search() -> None:
    """`re` searches anywhere in the value and respects case by default."""
    rows = ["id=123;", "ID=123", "id=x"]
    assert field_hits("message|re", r"id=\d+", rows) == [True, False, False]


@pytest.mark.parametrize(
    ("flag", "rows", "expected"),
    [
        ("i", ["SELECT * FROM", "select x"], [True, True]),
        ("m", ["x\nfoo", "xfoo"], [True, False]),
        ("s", ["a\nb", "ab"], [True, True]),
    ],
)
def test_regex_flags(flag: str, rows: list[str], expected: list[bool]) -> None:
    """The i, m and s flags mean ignore-case, multi-line anchors and dot-matches-newline."""
    pattern = {"i": "select", "m": "^foo", "s": "a.*b"}[flag]
    assert field_hits(f"message|re|{flag}", pattern, rows) == expected


def test_regex_without_flags_dot_stops_at_newline() -> None:
    """Without `s`, `.` does not match a newline (the negative of the s flag)."""
    assert field_hits("message|re", "a.b", ["a\nb", "axb"]) == [False, True]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("foo(?=bar)", "look-around"),
        ("(?<!x)foo", "look-around"),
        (r"(a)\1", "backreferences"),
    ],
)
def test_regex_rust_cannot_run_is_unsupported(pattern: str, reason: str) -> None:
    """Regexes Rust's engine cannot run are reported with the engine's reason."""
    got = unsupported({"sel": {"message|re": pattern}, "condition": "sel"})
    assert reason in got
    assert pattern in got


def test_base64_modifier_matches_encoded_value() -> None:
    """`base64|contains` finds the base64 encoding of the value."""
    encoded = base64.b64encode(b"secret").decode()
    rows = [f"x={encoded};", "x=secret", "c2VjcmV"]
    assert field_hits("message|base64|contains", "secret", rows) == [True, False, False]


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_base64offset_matches_any_alignment(offset: int) -> None:
    """`base64offset|contains` finds the value at each of the 3 byte alignments."""
    encoded = base64.b64encode(b"xyz"[:offset] + b"http://evil.example/").decode()
    other = base64.b64encode(b"xyz"[:offset] + b"ftp://evil.example/").decode()
    got = field_hits("message|base64offset|contains", "http://", [encoded, other])
    assert got == [True, False]


@pytest.mark.parametrize(
    ("modifier", "encoding"),
    [("wide", "utf-16-le"), ("utf16le", "utf-16-le"), ("utf16be", "utf-16-be")],
)
def test_utf16_modifiers_with_base64(modifier: str, encoding: str) -> None:
    """wide/utf16le/utf16be encode the value as UTF-16 before base64."""
    positive = base64.b64encode("ping 203.0.113.5".encode(encoding)).decode()
    negative = base64.b64encode(b"ping 203.0.113.5").decode()
    field = f"process.command_line|{modifier}|base64offset|contains"
    assert field_hits(field, "ping", [positive, negative]) == [True, False]


def test_utf16_modifier_adds_byte_order_mark() -> None:
    """utf16 encodes with a byte order mark (as PowerShell's -EncodedCommand does not)."""
    positive = base64.b64encode("\ufeffwhoami".encode("utf-16-le")).decode()
    negative = base64.b64encode("whoami".encode("utf-16-le")).decode()
    field = "process.command_line|utf16|base64|contains"
    assert field_hits(field, "whoami", [positive, negative]) == [True, False]


def test_windash_matches_every_dash_variant() -> None:
    """`windash` lets `-` stand for `/`, en dash, em dash and horizontal bar too."""
    rows = ["net user -add", "net user /add", "net user –add", "net user —add", "net user add"]
    got = field_hits("process.command_line|windash|contains", " -add", rows)
    assert got == [True, True, True, True, False]


def test_exists_true_and_false() -> None:
    """`exists: true` wants a value; `exists: false` wants none."""
    rows = ["x", None, ""]
    assert field_hits("user.name|exists", True, rows) == [True, False, True]
    assert field_hits("user.name|exists", False, rows) == [False, True, False]


def test_null_value_means_field_is_null() -> None:
    """A `null` value matches a null field and nothing else."""
    assert field_hits("http.request.referrer", None, [None, "-", ""]) == [True, False, False]


def test_missing_column_is_null() -> None:
    """A field the batch lacks does not match a value, but matches `null` and `not`."""
    frame = pl.DataFrame({"message": ["x"]})
    value = compiled({"sel": {"user.name": "root"}, "condition": "sel"})
    negated = compiled({"sel": {"user.name": "root"}, "condition": "not sel"})
    null = compiled({"sel": {"user.name": None}, "condition": "sel"})
    assert (hits(value, frame), hits(negated, frame), hits(null, frame)) == (
        [False],
        [True],
        [True],
    )


def test_not_of_null_field_is_true() -> None:
    """Sigma logic is two-valued: `not (field = x)` holds when the field is null."""
    rule = compiled({"sel": {"user.name": "root"}, "condition": "not sel"})
    assert hits(rule, pl.DataFrame({"user.name": ["root", None, "bob"]})) == [False, True, True]


@pytest.mark.parametrize(
    ("modifier", "expected"),
    [
        ("lt", [True, False, False, False]),
        ("lte", [True, True, False, False]),
        ("gt", [False, False, True, False]),
        ("gte", [False, True, True, False]),
    ],
)
def test_numeric_comparisons(modifier: str, expected: list[bool]) -> None:
    """lt/lte/gt/gte compare numbers on numeric and on numeric-text columns."""
    ints = [399, 400, 503, None]
    texts = ["399", " 400", "503", "n/a"]
    field = f"http.response.status_code|{modifier}"
    assert field_hits(field, 400, ints, dtype=pl.Int32) == expected
    assert field_hits(field, 400, texts) == expected


def test_neq_modifier_negates() -> None:
    """`neq` matches values other than the given ones."""
    rows = ["GET", "POST", "get"]
    assert field_hits("http.request.method|neq", "GET", rows) == [False, True, False]


def test_number_on_numeric_column_compares_numerically() -> None:
    """A number equals numerically on a numeric column."""
    assert field_hits("destination.port", 22, [22, 2222, None], dtype=pl.Int32) == [
        True,
        False,
        False,
    ]


def test_number_on_text_column_compares_as_text() -> None:
    """On a text column a number compares as its text: '022' is not 22."""
    assert field_hits("destination.port", 22, ["22", "022", "x"]) == [True, False, False]


def test_string_on_numeric_column_compares_as_text() -> None:
    """A string value (with wildcards) matches the text form of a number."""
    got = field_hits("http.response.status_code", "5*", [500, 404, 503], dtype=pl.Int32)
    assert got == [True, False, True]


def test_bool_value() -> None:
    """A boolean matches boolean columns and 'true'/'false' text."""
    assert field_hits("event.blocked", True, [True, False, None], dtype=pl.Boolean) == [
        True,
        False,
        False,
    ]
    assert field_hits("event.blocked", False, ["FALSE", "true"]) == [True, False]


def test_fieldref_equality_and_modifiers() -> None:
    """`fieldref` compares two fields of the same event (case-insensitively)."""
    frame = pl.DataFrame(
        {
            "user.name": ["Bob", "bob", "alice", "bobby", None],
            "user.target.name": ["BOB", "carol", "alice", "bob", "x"],
        }
    )
    eq = compiled({"sel": {"user.name|fieldref": "user.target.name"}, "condition": "sel"})
    starts = compiled(
        {"sel": {"user.name|fieldref|startswith": "user.target.name"}, "condition": "sel"}
    )
    assert hits(eq, frame) == [True, False, True, False, False]
    assert hits(starts, frame) == [True, False, True, True, False]


def test_fieldref_on_numbers() -> None:
    """`fieldref` between numeric columns compares the numbers."""
    frame = pl.DataFrame({"source.port": [22, 80], "destination.port": [22, 443]})
    rule = compiled({"sel": {"source.port|fieldref": "destination.port"}, "condition": "sel"})
    assert hits(rule, frame) == [True, False]


@pytest.mark.parametrize(
    ("network", "rows", "expected"),
    [
        (
            "192.0.2.0/24",
            ["192.0.2.1", "192.0.3.1", "2001:db8::1", "x"],
            [True, False, False, False],
        ),
        (
            "198.51.100.0/22",
            ["198.51.100.9", "198.51.103.255", "198.51.104.0"],
            [True, True, False],
        ),
        ("2001:db8::/32", ["2001:DB8::1", "2001:db9::1", "192.0.2.1"], [True, False, False]),
        ("2001:db8:8000::/33", ["2001:db8:8000::5", "2001:db8:7fff::5"], [True, False]),
        ("::ffff:0:0/96", ["::ffff:192.0.2.1", "192.0.2.1"], [True, False]),
    ],
)
def test_cidr_v4_and_v6(network: str, rows: list[str], expected: list[bool]) -> None:
    """`cidr` tests membership of IPv4 and IPv6 networks, aligned or not."""
    assert field_hits("source.ip|cidr", network, rows) == expected


def test_cidr_list_and_negation() -> None:
    """A list of networks is OR; `not` of it keeps the addresses outside all of them."""
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    frame = pl.DataFrame({"source.ip": ["10.1.2.3", "172.31.0.1", "fd00::1", "203.0.113.9", None]})
    inside = compiled({"sel": {"source.ip|cidr": private}, "condition": "sel"})
    outside = compiled({"sel": {"source.ip|cidr": private}, "condition": "not sel"})
    assert hits(inside, frame) == [True, True, True, False, False]
    assert hits(outside, frame) == [False, False, False, True, True]


def test_time_part_modifiers() -> None:
    """hour/day/month/... compare a part of a datetime field."""
    ts = [datetime(2026, 11, 22, 3, 5, tzinfo=UTC), datetime(2026, 11, 22, 4, 5, tzinfo=UTC)]
    frame = pl.DataFrame({"@timestamp": ts})
    hour = compiled({"sel": {"@timestamp|hour": 3}, "condition": "sel"})
    month = compiled({"sel": {"@timestamp|month": 11}, "condition": "sel"})
    assert (hits(hour, frame), hits(month, frame)) == ([True, False], [True, True])


def test_list_column_matches_any_element() -> None:
    """On a list column the value matches when any element does."""
    frame = pl.DataFrame({"tags": [["Web", "scan"], ["ssh"], [], None]})
    rule = compiled({"sel": {"tags": "web"}, "condition": "sel"})
    assert hits(rule, frame) == [True, False, False, False]


def test_struct_column_never_matches() -> None:
    """A column whose values have no text form does not match rather than erroring."""
    frame = pl.DataFrame({"user.name": [{"a": 1}]})
    rule = compiled({"sel": {"user.name|contains": "a"}, "condition": "sel"})
    assert hits(rule, frame) == [False]


def test_expand_placeholder_is_unsupported() -> None:
    """`expand` placeholders need value lists vigil does not have: reported."""
    got = unsupported({"sel": {"user.name|expand": "%admins%"}, "condition": "sel"})
    assert "%admins%" in got
