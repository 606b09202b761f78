"""HTTP ingest on loopback: NDJSON, JSON and plain bodies, the bearer token, the limits
and the answers that say which one was hit."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.sources.netutil import Collector
from vigil.errors import SourceError
from vigil.sources.http_ingest import HttpIngestSource
from vigil.sources.net_settings import HttpSettings

TOKEN = "s3cret-token-for-tests"
EVENT = {"@timestamp": "2026-11-22T10:00:01Z", "source.ip": "203.0.113.7", "event.action": "x"}


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def source(collector: Collector) -> Iterator[HttpIngestSource]:
    src = HttpIngestSource("ingest", _settings())
    src.start(collector)
    yield src
    src.stop()


def _settings(**kw: object) -> HttpSettings:
    return HttpSettings.model_validate({"listen": "127.0.0.1:0", "token": TOKEN, **kw})


def _post(
    source: HttpIngestSource,
    body: bytes,
    *,
    token: str | None = TOKEN,
    content_type: str | None = "application/x-ndjson",
    path: str = "/ingest",
    method: str = "POST",
) -> tuple[int, dict[str, object], http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(*source.address, timeout=10)
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else {}, response


def test_ndjson_lines_are_delivered_one_per_record(source, collector):
    """Each NDJSON record is one line, as sent, for the jsonl parser; blank lines are
    skipped and counted; the answer counts what was taken."""
    records = [json.dumps({**EVENT, "n": i}) for i in range(3)]
    body = "\n".join(records[:2]).encode() + b"\n\n" + records[2].encode() + b"\n"
    status, answer, _ = _post(source, body)
    assert (status, answer) == (202, {"accepted": 3, "rejected": 0, "skipped": 1})
    assert collector.wait_lines(3) == records
    chunk = collector.chunks[0]
    assert chunk.source == "ingest"
    assert chunk.origin.startswith("http://127.0.0.1:")
    assert source.stats().lines == 3


def test_json_array_and_plain_text(source, collector):
    """application/json takes an array (or one object), each record becoming one compact
    line; text/plain takes any lines, invalid UTF-8 replaced and counted."""
    doc = json.dumps([EVENT, {"message": "caf\u00e9"}], indent=2).encode()
    assert _post(source, doc, content_type="application/json; charset=utf-8")[0] == 202
    plain = b"<13>Nov 22 10:00:01 h sshd[1]: one\r\ncaf\xe9 two"
    assert _post(source, plain, content_type="text/plain")[0] == 202
    assert collector.wait_lines(4) == [
        json.dumps(EVENT, separators=(",", ":")),
        '{"message":"café"}',
        "<13>Nov 22 10:00:01 h sshd[1]: one",
        "caf\ufffd two",
    ]
    assert source.stats().detail["replaced_utf8"] == "1"


def test_ndjson_sent_as_application_json_is_taken_as_ndjson(source, collector):
    """Shippers that label NDJSON application/json still get one line per record."""
    body = b'{"a":1}\n{"b":2}\n'
    assert _post(source, body, content_type="application/json")[:2] == (
        202,
        {"accepted": 2, "rejected": 0, "skipped": 0},
    )
    assert collector.wait_lines(2) == ['{"a":1}', '{"b":2}']


def test_wrong_or_missing_token_is_401(source, collector):
    """No token, a wrong token or another scheme: 401 with WWW-Authenticate, nothing
    delivered."""
    for token in (None, "s3cret-token-for-tesTS", ""):
        status, answer, response = _post(source, b'{"a":1}\n', token=token)
        assert status == 401
        assert answer == {"error": "a valid bearer token is required"}
        assert response.getheader("WWW-Authenticate") == 'Bearer realm="vigil"'
    assert source.stats().detail["http_401"] == "3"
    assert collector.chunks == []


def test_too_large_body_is_413(collector):
    """A body over max_body is refused before it is read."""
    src = HttpIngestSource("ingest", _settings(max_body=4096))
    src.start(collector)
    try:
        status, answer, _ = _post(src, b"x" * 5000, content_type="text/plain")
        assert (status, answer) == (413, {"error": "body over 4096 bytes"})
        assert _post(src, b"fits\n", content_type="text/plain")[0] == 202
    finally:
        src.stop()
    assert collector.lines == ["fits"]


def test_expect_100_gets_the_refusal_before_the_body(source):
    """A client that asks `Expect: 100-continue` learns of a 401 without sending its body."""
    with socket.create_connection(source.address) as sock:
        sock.sendall(
            b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            b"Expect: 100-continue\r\nAuthorization: Bearer nope\r\n\r\n"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 401 ")


def test_unsupported_type_path_method_and_length_answers(source, collector):
    """415 for other content types or charsets, 404 for other paths, 405 for other methods,
    411 without a length, 400 for bad JSON; oversize lines are rejects with a reason."""
    assert _post(source, b"<a/>", content_type="application/xml")[0] == 415
    assert _post(source, b"x", content_type="text/plain; charset=latin-1")[0] == 415
    assert _post(source, b"x", path="/other")[0] == 404
    assert _post(source, b"", method="GET")[0] == 405
    status, answer, _ = _post(source, b"[1,", content_type="application/json")
    assert status == 400
    assert str(answer["error"]).startswith("application/json body is not JSON")
    with socket.create_connection(source.address) as sock:
        sock.sendall(
            f"POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 411 ")
    long_line = b"y" * (70 * 1024)
    status, answer, _ = _post(source, long_line + b"\nshort\n", content_type="text/plain")
    assert (status, answer) == (202, {"accepted": 1, "rejected": 1, "skipped": 0})
    collector.wait_for(lambda c: len(c.rejects) == 1)
    assert collector.rejects[0][0] == "message too long (71680 bytes, limit 65536)"


def test_stalled_pipeline_answers_429_then_accepts_again(collector):
    """When the source's byte budget is full, requests get 429 with Retry-After and
    nothing of theirs is delivered; once the pipeline moves, requests go through."""
    src = HttpIngestSource("ingest", _settings(queue_bytes=65_536))
    src.start(collector)
    try:
        collector.hold()
        body = b"\n".join(b'{"n":%d,"pad":"%s"}' % (i, b"." * 100) for i in range(400))
        assert _post(src, body)[0] == 202
        # The first body is taken (and stuck in the pipeline); one more fits the budget.
        assert collector.stalled.wait(10)
        assert _post(src, body)[0] == 202
        for _ in range(2):
            status, _, response = _post(src, body)
            assert status == 429
            assert response.getheader("Retry-After") == "1"
        collector.release()
        collector.wait_for(lambda c: len(c.lines) == 800)
        assert _post(src, b'{"after":1}\n')[0] == 202
        collector.wait_for(lambda c: c.lines[-1] == '{"after":1}')
    finally:
        src.stop()


def test_token_from_the_environment(collector):
    """token_env names the variable; unset or too short is a start error."""
    settings = HttpSettings(listen="127.0.0.1:0", token_env="INGEST_TOKEN")
    with pytest.raises(SourceError, match="environment variable INGEST_TOKEN is not set"):
        HttpIngestSource("ingest", settings, environ={}).start(collector)
    with pytest.raises(SourceError, match="shorter than 16 characters"):
        HttpIngestSource("ingest", settings, environ={"INGEST_TOKEN": "short"}).start(collector)
    src = HttpIngestSource("ingest", settings, environ={"INGEST_TOKEN": TOKEN})
    src.start(collector)
    try:
        assert _post(src, b'{"a":1}\n')[0] == 202
    finally:
        src.stop()


def test_stop_returns_promptly_and_frees_the_port(collector):
    """stop() with an idle keep-alive client returns at once; the port binds again."""
    src = HttpIngestSource("ingest", _settings())
    src.start(collector)
    conn = http.client.HTTPConnection(*src.address, timeout=10)
    conn.request("POST", "/ingest", body=b"x\n", headers={"Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().status == 202
    began = time.monotonic()
    src.stop()
    assert time.monotonic() - began < 2.0
    conn.close()
    host, port = src.address
    again = HttpIngestSource("ingest", _settings(listen=f"{host}:{port}"))
    again.start(collector)
    again.stop()
    assert collector.lines == ["x"]
