"""Labelled requests as access-log lines: the apache parser must read every one."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from eval.detection_web_data import (
    Request,
    access_line,
    apache_escape,
    csic_requests,
    httpparams_requests,
    write_log,
)

from vigil.pipeline.analyze import AnalyzeOptions, analyze

CSIC = (
    "GET http://localhost:8080/tienda1/index.jsp?id=1 HTTP/1.1\r\n"
    "User-Agent: Mozilla/5.0 (compatible; Konqueror/3.5)\r\n"
    "Host: localhost:8080\r\n"
    "\r\n"
    "\r\n"
    "POST http://localhost:8080/tienda1/registro.jsp HTTP/1.1\r\n"
    "User-Agent: Mozilla/5.0 (compatible; Konqueror/3.5)\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "Content-Length: 21\r\n"
    "\r\n"
    "login=a%27+OR+1%3D1--\r\n"
    "\r\n"
)
PARAMS = (
    '"payload","length","attack_type","label"\n'
    '"c/ caridad s/n","14","norm","norm"\n'
    '"1\' or ""x""=""x","14","sqli","anom"\n'
    '"<svg onload=alert(1)>","21","xss","anom"\n'
)


def test_csic_requests_keep_method_target_agent_and_body(tmp_path: Path) -> None:
    """A POST's body is read after its headers and folded into the logged query."""
    path = tmp_path / "anomal_test.txt.gz"
    path.write_bytes(gzip.compress(CSIC.encode("latin-1")))
    get, post = csic_requests(path, "anomalous")
    assert get.logged_target == "/tienda1/index.jsp?id=1"
    assert get.user_agent == "Mozilla/5.0 (compatible; Konqueror/3.5)"
    assert post.body == "login=a%27+OR+1%3D1--"
    assert post.logged_target == "/tienda1/registro.jsp?login=a%27+OR+1%3D1--"
    assert post.attack


def _target(tmp_path: Path, value: str, encoding: str) -> str:
    path = tmp_path / "p.csv"
    quoted = value.replace('"', '""')
    path.write_text(f'"payload","length","attack_type","label"\n"{quoted}","1","sqli","anom"\n')
    return httpparams_requests(path, encoding)[0].target


def test_httpparams_encodings(tmp_path: Path) -> None:
    """`form` escapes all but unreserved characters; `raw` only what a value cannot hold."""
    value = '1\' or "x"="x" #&'
    assert _target(tmp_path, value, "form") == "/search?q=1%27+or+%22x%22%3D%22x%22+%23%26"
    assert _target(tmp_path, value, "raw") == '/search?q=1\'%20or%20"x"="x"%20%23%26'
    assert Request("GET", "/", "ua", "norm").attack is False


def test_unknown_encoding_is_refused(tmp_path: Path) -> None:
    """A typo in the encoding is an error, not a silent default."""
    path = tmp_path / "p.csv"
    path.write_text(PARAMS)
    with pytest.raises(ValueError, match="unknown encoding 'url'"):
        httpparams_requests(path, "url")


def test_apache_escaping_of_quotes_backslashes_and_control_bytes() -> None:
    """As Apache's %r: quote and backslash escaped, control bytes as \\xhh."""
    assert apache_escape('a"b\\c\td') == 'a\\"b\\\\c\\x09d'


def test_lines_are_distinct_clients_one_second_apart() -> None:
    """Each request gets its own benchmarking-range client and second."""
    req = Request("GET", "/a", "ua", "norm")
    assert access_line(req, 0).startswith('198.18.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /a')
    assert access_line(req, 300).startswith("198.18.1.45 - - [01/Jan/2026:00:05:00 +0000]")


def test_every_generated_line_parses_as_apache(tmp_path: Path) -> None:
    """The parser reads every line, hostile payloads included, with the method and URL."""
    path = tmp_path / "p.csv"
    path.write_text(PARAMS)
    requests = [*httpparams_requests(path, "raw"), *httpparams_requests(path, "form")]
    log = tmp_path / "access.log"
    write_log(requests, log)
    report = analyze([str(log)], AnalyzeOptions(format="apache"))
    assert report.files[0].rejected == 0
    assert report.files[0].events == len(requests)
