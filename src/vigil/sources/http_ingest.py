"""HTTP ingest: `POST /ingest` with NDJSON, a JSON document, or plain lines.

    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" \\
         --data-binary @events.ndjson http://127.0.0.1:8514/ingest

Every request needs the bearer token (compared in constant time). Answers:

    202  accepted: {"accepted": lines, "rejected": lines, "skipped": blank lines}
    400  a body shorter than its Content-Length, or application/json that is not JSON
    401  no or wrong token                 404  another path    405  another method
    411  no Content-Length (chunked bodies are not taken)
    413  body over max_body                415  a content type other than the four below
    429  the pipeline is behind: retry after the Retry-After seconds
    503  the source is stopping

Content types: `application/x-ndjson` and `application/jsonl` (one JSON record per line,
passed on as is for the `jsonl` parser), `application/json` (one object or an array of
objects, each passed on as one line; NDJSON sent under this type is taken as NDJSON),
and `text/plain` (or none): any lines. Bodies must be UTF-8; invalid bytes are replaced
and counted. A request's lines are one chunk: they are taken whole or not at all.

The server is the standard library's threaded one (a thread per connection, at most
`max_connections`): ingest is a bulk path where each request carries many lines, so the
per-request cost does not matter, and it needs no dependency.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from vigil.clock import Clock, SystemClock
from vigil.errors import SourceError
from vigil.sources.handoff import Handoff
from vigil.sources.live import Deliver, RawChunk, SourceStats
from vigil.sources.net_lines import Shaped, shape_frames
from vigil.sources.net_settings import MIN_TOKEN_LENGTH, HttpSettings

log = logging.getLogger(__name__)

PATH = "/ingest"
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-seq"})
JSON_TYPE = "application/json"
TEXT_TYPES = frozenset({"text/plain", ""})
RETRY_AFTER_SECONDS = 1
# An error answered before the body was read drains a body up to this size first, so the
# client reads the answer instead of a connection reset; larger ones close the connection.
DRAIN_LIMIT = 1 << 20
STOP_TIMEOUT = 5.0


class HttpIngestSource:
    """A live source of lines posted to `/ingest`."""

    kind = "http"

    def __init__(
        self,
        name: str,
        settings: HttpSettings,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock or SystemClock()
        self._environ = os.environ if environ is None else environ
        self._token = b""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handoff: Handoff[RawChunk] | None = None
        self._lock = threading.Lock()
        self._answers: dict[int, int] = {}
        self._skipped = 0
        self._replaced = 0
        self._active = 0
        self._stopping = False
        self.address: tuple[str, int] = settings.address

    def start(self, deliver: Deliver) -> None:
        if self._thread is not None:
            raise SourceError(f"source {self.name} is already started")
        self._token = self._resolve_token()
        host, port = self.settings.address
        try:
            server = _Server((host, port), _Handler, self)
        except OSError as e:
            raise SourceError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        self.address = (str(bound_host), int(bound_port))
        self._handoff = Handoff(self.name, deliver, _as_is, max_bytes=self.settings.queue_bytes)
        self._handoff.start()
        self._stopping = False
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"vigil-http-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread, handoff = self._server, self._thread, self._handoff
        if server is None or thread is None or handoff is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        self._stopping = True
        server.shutdown()
        server.server_close()
        thread.join(max(0.0, deadline - time.monotonic()))
        handoff.close(deadline)
        self._server = self._thread = None

    def stats(self) -> SourceStats:
        st = SourceStats(name=self.name, kind=self.kind)
        if self._handoff is not None:
            self._handoff.fill(st)
        with self._lock:
            st.detail.update({f"http_{code}": str(n) for code, n in sorted(self._answers.items())})
            st.detail["skipped_blank"] = str(self._skipped)
            st.detail["replaced_utf8"] = str(self._replaced)
            st.detail["connections"] = str(self._active)
        st.detail["listen"] = f"{self.address[0]}:{self.address[1]}"
        return st

    # -- requests (one handler thread per connection) ------------------------------------

    def _resolve_token(self) -> bytes:
        s = self.settings
        if s.token is not None:
            return s.token.get_secret_value().encode()
        assert s.token_env is not None
        value = self._environ.get(s.token_env, "")
        if not value:
            raise SourceError(f"source {self.name}: environment variable {s.token_env} is not set")
        if len(value) < MIN_TOKEN_LENGTH:
            raise SourceError(
                f"source {self.name}: the token in {s.token_env} is shorter than "
                f"{MIN_TOKEN_LENGTH} characters"
            )
        return value.encode()

    def precheck(self, h: _Handler) -> tuple[HTTPStatus, str] | None:
        """Everything that can be refused before the body is read, in the order a client
        is best told about it."""
        for check in (self._check_route, self._check_type, self._check_length, self._check_room):
            refused = check(h)
            if refused is not None:
                return refused
        return None

    def _check_route(self, h: _Handler) -> tuple[HTTPStatus, str] | None:
        if urlsplit(h.path).path != PATH:
            return HTTPStatus.NOT_FOUND, f"POST your lines to {PATH}"
        scheme, _, token = h.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self._token
        ):
            return HTTPStatus.UNAUTHORIZED, "a valid bearer token is required"
        return None

    def _check_type(self, h: _Handler) -> tuple[HTTPStatus, str] | None:
        mime, charset = _content_type(h.headers.get("Content-Type", ""))
        if mime not in NDJSON_TYPES | TEXT_TYPES | {JSON_TYPE}:
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"content type {mime!r} is not taken"
        if charset not in ("", "utf-8", "utf8", "us-ascii"):
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"charset {charset!r}: send UTF-8"
        return None

    def _check_length(self, h: _Handler) -> tuple[HTTPStatus, str] | None:
        length = _content_length(h)
        if h.headers.get("Transfer-Encoding") or length is None:
            return HTTPStatus.LENGTH_REQUIRED, "send a Content-Length (no chunked bodies)"
        if length < 0:
            return HTTPStatus.BAD_REQUEST, "bad Content-Length"
        if length > self.settings.max_body:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {self.settings.max_body} bytes"
        return None

    def _check_room(self, h: _Handler) -> tuple[HTTPStatus, str] | None:
        if self._stopping:
            return HTTPStatus.SERVICE_UNAVAILABLE, "the source is stopping"
        handoff = self._handoff
        assert handoff is not None
        queued = handoff.queued_bytes
        if queued and queued + (_content_length(h) or 0) > self.settings.queue_bytes:
            return HTTPStatus.TOO_MANY_REQUESTS, "the pipeline is behind; retry later"
        return None

    def ingest(self, h: _Handler) -> None:
        refused = self.precheck(h)
        if refused is not None:
            length = _content_length(h) or 0
            if 0 < length <= DRAIN_LIMIT and refused[0] != HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                h.rfile.read(length)
            else:
                h.close_connection = True
            self.answer(h, refused[0], {"error": refused[1]})
            return
        length = _content_length(h) or 0
        body = h.rfile.read(length)
        if len(body) < length:
            h.close_connection = True
            self.answer(h, HTTPStatus.BAD_REQUEST, {"error": "body shorter than Content-Length"})
            return
        mime, _ = _content_type(h.headers.get("Content-Type", ""))
        try:
            shaped = self._shape(body, mime)
        except ValueError as e:
            self.answer(h, HTTPStatus.BAD_REQUEST, {"error": str(e)})
            return
        host, port = h.client_address[:2]
        chunk = RawChunk(
            source=self.name,
            origin=f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}",
            lines=shaped.lines,
            received_at=self._clock.now(),
            rejects=shaped.rejects,
        )
        handoff = self._handoff
        assert handoff is not None
        if not handoff.offer(chunk, len(body), len(shaped.lines) + len(shaped.rejects)):
            if self._stopping:
                self.answer(h, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the source is stopping"})
            else:
                self.answer(h, HTTPStatus.TOO_MANY_REQUESTS, {"error": "retry later"})
            return
        with self._lock:
            self._skipped += shaped.skipped
            self._replaced += shaped.replaced
        self.answer(
            h,
            HTTPStatus.ACCEPTED,
            {
                "accepted": len(shaped.lines),
                "rejected": len(shaped.rejects),
                "skipped": shaped.skipped,
            },
        )

    def _shape(self, body: bytes, mime: str) -> Shaped:
        max_message = self.settings.max_message
        if mime == JSON_TYPE:
            documents = _json_documents(body)
            if documents is not None:
                return shape_frames(documents, max_message, skip_blank=True)
        frames = body.split(b"\n")
        if frames and not frames[-1]:
            frames.pop()  # the newline that ends the last line
        return shape_frames(frames, max_message, skip_blank=True)

    def answer(
        self, h: BaseHTTPRequestHandler, status: HTTPStatus, payload: dict[str, Any]
    ) -> None:
        data = json.dumps(payload).encode() + b"\n"
        with self._lock:
            self._answers[status.value] = self._answers.get(status.value, 0) + 1
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if status == HTTPStatus.UNAUTHORIZED:
            h.send_header("WWW-Authenticate", 'Bearer realm="vigil"')
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            h.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            h.send_header("Allow", "POST")
        if h.close_connection:
            h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data)


def _as_is(chunk: RawChunk) -> tuple[RawChunk, int]:
    # Requests are shaped on their handler thread; the replaced count is added there.
    return chunk, 0


def _content_type(value: str) -> tuple[str, str]:
    mime, _, params = value.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"').lower()
    return mime.strip().lower(), charset


def _content_length(h: BaseHTTPRequestHandler) -> int | None:
    value = h.headers.get("Content-Length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else -1


def _json_documents(body: bytes) -> list[bytes] | None:
    """The records of an application/json body, one compact JSON text each; None when the
    body is NDJSON under that type. Raises ValueError when it is neither."""
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            return None
        raise ValueError(f"application/json body is not JSON: {e.msg} at byte {e.pos}") from None
    except UnicodeDecodeError:
        raise ValueError("application/json body is not UTF-8") from None
    records = doc if isinstance(doc, list) else [doc]
    # One dumps per record: the parse above already built every record as Python objects,
    # so this costs the same order as the parse itself (JSON arrays are the rarer shape;
    # NDJSON skips both).
    return [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in records]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], source: HttpIngestSource):
        self.source = source
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host's name up in DNS (getfqdn), which can
        # hang a start on a host without a resolver; the name is only used in CGI.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        src = self.source
        with src._lock:
            full = src._active >= src.settings.max_connections
            if not full:
                src._active += 1
        if full:
            # Past the connection limit: close at once rather than start one more thread.
            with src._lock:
                src._answers[0] = src._answers.get(0, 0) + 1
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.source._lock:
                self.source._active -= 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "vigil"
    sys_version = ""

    def setup(self) -> None:
        # A client that stops sending mid-request frees its thread after this long.
        self.request.settimeout(self.server.source.settings.timeout)
        super().setup()

    def handle_expect_100(self) -> bool:
        # Refuse before the client sends its body (curl sends Expect for bodies > 1 MiB).
        refused = self.server.source.precheck(self)
        if refused is None:
            return super().handle_expect_100()
        self.close_connection = True
        self.server.source.answer(self, refused[0], {"error": refused[1]})
        return False

    def do_POST(self) -> None:
        self.server.source.ingest(self)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self.server.source.answer(
            self, HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"POST your lines to {PATH}"}
        )

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
