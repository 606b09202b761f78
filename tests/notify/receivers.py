"""Real receivers on loopback for notification tests: an SMTP server (aiosmtpd) that
checks a login, and an HTTP server that records every POST. Both wait for messages
with a deadline instead of sleeping."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "vigil"
SMTP_PASSWORD = "s3cret-pw"


def free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Inbox:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def put(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[Any]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= count, timeout)
            return list(self.items)


@dataclass
class SMTPReceiver:
    port: int
    inbox: _Inbox = field(default_factory=_Inbox)
    logins: list[str] = field(default_factory=list)

    @property
    def mails(self) -> list[EmailMessage]:
        return list(self.inbox.items)

    def wait(self, count: int = 1) -> list[EmailMessage]:
        return self.inbox.wait(count)

    def url(self, to: str = "ops@example.org", extra: str = "") -> str:
        return (
            f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
            f"?mode=insecure&from=vigil@example.org&to={to}{extra}"
        )


class _Handler:
    def __init__(self, receiver: SMTPReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.receiver.inbox.put(mail)
        return "250 OK"


def mail_text(mail: EmailMessage) -> str:
    """The text body of a received mail, with the wire's CRLF line ends as newlines."""
    return str(mail.get_content()).replace("\r\n", "\n")


def _authenticator(receiver: SMTPReceiver) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        if ok:
            receiver.logins.append(SMTP_USER)
        return AuthResult(success=ok)

    return check


@contextmanager
def smtp_receiver(port: int | None = None) -> Iterator[SMTPReceiver]:
    receiver = SMTPReceiver(port or free_port())
    controller = Controller(
        _Handler(receiver),
        hostname="127.0.0.1",
        port=receiver.port,
        authenticator=_authenticator(receiver),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HTTPReceiver:
    port: int
    inbox: _Inbox = field(default_factory=_Inbox)
    status: int = 200

    @property
    def posts(self) -> list[Posted]:
        return list(self.inbox.items)

    def wait(self, count: int = 1) -> list[Posted]:
        return self.inbox.wait(count)


@contextmanager
def http_receiver(port: int | None = None, status: int = 200) -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver(port or free_port(), status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(size)
            receiver.inbox.put(Posted(self.path, dict(self.headers), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
