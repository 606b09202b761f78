"""The Apache/nginx access-log parser beyond its golden samples."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.parsers.apache import MALFORMED_REQUEST, NOT_ACCESS_LOG, ApacheParser
from vigil.parsers.base import LINE, ParseContext
from vigil.pipeline.analyze import AnalyzeOptions, analyze, sniff
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

COMBINED = (
    '203.0.113.{n} - - [22/Nov/2026:10:00:{s:02d} +0000] "GET /p{n}?q=1 HTTP/1.1" 200 {n} '
    '"-" "Mozilla/5.0"'
)


def _frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            LINE: pl.Series(lines, dtype=pl.String),
            F.LOG_FILE_LINE: pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True),
        }
    )


def _parse(lines: list[str], origin: str = "access.log") -> tuple[pl.DataFrame, pl.DataFrame]:
    result = parse_lines(ApacheParser(ParseContext(origin=origin)), _frame(lines))
    return result.events, result.rejects


def test_overlong_url_is_an_event() -> None:
    """A 64 KiB request target (a buffer-overflow probe) is parsed, not rejected."""
    target = "/" + "A" * 65536 + "?x=" + "%41" * 100
    line = f'203.0.113.1 - - [22/Nov/2026:10:00:00 +0000] "GET {target} HTTP/1.1" 414 0 "-" "-"'
    events, rejects = _parse([line])
    assert rejects.height == 0
    assert events[F.URL_ORIGINAL].item() == target
    assert events[F.URL_PATH].item() == "/" + "A" * 65536
    assert events[F.HTTP_RESPONSE_STATUS_CODE].item() == 414


def test_events_keep_line_order_when_lines_take_different_paths() -> None:
    """Escaped quotes, vhosts and spaced targets are parsed apart but come out in order."""
    lines = [
        COMBINED.format(n=1, s=1),
        '203.0.113.2 - - [22/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 1 "-" "a \\"b\\""',
        "www.example.com:443 " + COMBINED.format(n=3, s=3),
        '203.0.113.4 - - [22/Nov/2026:10:00:04 +0000] "GET /a b HTTP/1.1" 404 0 "-" "-"',
        "garbage",
        COMBINED.format(n=6, s=6),
    ]
    events, rejects = _parse(lines)
    assert events[F.LOG_FILE_LINE].to_list() == [1, 2, 3, 4, 6]
    assert events[F.SOURCE_IP].to_list() == [f"203.0.113.{n}" for n in (1, 2, 3, 4, 6)]
    assert rejects.rows() == [(5, NOT_ACCESS_LOG)]


def test_dataset_is_nginx_when_the_path_names_nginx() -> None:
    """`/var/log/nginx/access.log` gives event.dataset nginx; other paths apache."""
    line = [COMBINED.format(n=1, s=1)]
    nginx, _ = _parse(line, "/var/log/nginx/access.log")
    apache, _ = _parse(line, "/var/log/apache2/access.log")
    assert (nginx[F.EVENT_DATASET].item(), apache[F.EVENT_DATASET].item()) == ("nginx", "apache")


def test_sniff_picks_apache_for_an_access_log() -> None:
    """Format detection recognises a combined access log as apache."""
    head = [COMBINED.format(n=n, s=n) for n in range(1, 40)]
    chosen = sniff(head, ParseContext(origin="x.log"))
    assert chosen is ApacheParser


def test_sniff_picks_apache_for_access_lines_behind_a_syslog_header() -> None:
    """nginx logging to syslog: the file is apache's, not the generic syslog parser's."""
    head = [
        f"Nov 22 10:00:{n:02d} web-1 nginx[2869]: " + COMBINED.format(n=n, s=n)
        for n in range(1, 40)
    ]
    chosen = sniff(head, ParseContext(origin="x.log"))
    assert chosen is ApacheParser


def test_tls_handshake_is_an_event_with_its_client(tmp_path: Path) -> None:
    """End to end, a TLS handshake sent to the HTTP port counts as an event of its client."""
    path = tmp_path / "access.log"
    path.write_text(
        COMBINED.format(n=1, s=1)
        + "\n"
        + '203.0.113.9 - - [22/Nov/2026:10:00:02 +0000] "\\x16\\x03\\x01\\x00" 400 226 "-" "-"\n'
    )
    report = analyze([str(path)], AnalyzeOptions())
    (f,) = report.files
    assert (f.format, f.events, f.rejected) == ("apache", 2, 0)
    assert report.tally.sources == {"203.0.113.1": 1, "203.0.113.9": 1}


def test_malformed_request_reason() -> None:
    """A binary request line leaves method and URL null and says why."""
    line = '203.0.113.9 - - [22/Nov/2026:10:00:02 +0000] "\\x16\\x03 \\x01" 400 226 "-" "-"'
    events, _ = _parse([line])
    assert events.select(F.HTTP_REQUEST_METHOD, F.URL_ORIGINAL, F.EVENT_REASON).row(0) == (
        None,
        None,
        MALFORMED_REQUEST,
    )


_PIECES = st.sampled_from(
    [
        "203.0.113.7",
        "2001:db8::1",
        "www.example.com:443",
        " ",
        "-",
        "[22/Nov/2026:10:00:01 +0000]",
        "[",
        "]",
        '"',
        '\\"',
        "\\",
        "GET",
        "/a?b=%zz",
        "HTTP/1.1",
        "200",
        "-",
        "\\x16\\x03",
        "é",
        "\ufffd",
        "%",
        "?",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=16).map("".join), min_size=1, max_size=8))
def test_any_line_is_an_event_or_a_reject(lines: list[str]) -> None:
    """Fragments of access-log lines in any order never raise; each line is accounted once."""
    lines = [ln for ln in lines if ln.strip()] or ["-"]
    events, rejects = _parse(lines)
    seen = events[F.LOG_FILE_LINE].to_list() + rejects[F.LOG_FILE_LINE].to_list()
    assert sorted(seen) == list(range(1, len(lines) + 1))
    assert events[F.LOG_FILE_LINE].is_sorted()
