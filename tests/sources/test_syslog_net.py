"""Syslog listeners on loopback: UDP, TCP (newline and octet-counted framing), TLS,
hostile datagrams, back-pressure, drops and shutdown."""

from __future__ import annotations

import datetime as dt
import random
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sources.netutil import Collector, eventually
from vigil.errors import SourceError
from vigil.parsers.base import ParseContext
from vigil.parsers.syslog import SyslogParser
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F
from vigil.sources.net_settings import SyslogSettings
from vigil.sources.syslog_net import STOP_TIMEOUT, SyslogSource

RFC3164 = (
    "<34>Nov 22 10:00:01 gw sshd[4242]: Failed password for root from 203.0.113.7 port 51515 ssh2"
)
RFC5424 = (
    '<165>1 2026-11-22T10:00:01.003Z gw.example.net sshd 4242 ID47 [meta seq="1"] '
    "Failed password for root from 2001:db8::7 port 51515 ssh2"
)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def running(collector: Collector) -> Iterator[list[SyslogSource]]:
    """Sources started by a test; all stopped at the end, even on failure."""
    started: list[SyslogSource] = []
    yield started
    for source in started:
        source.stop()


def _start(running: list[SyslogSource], collector: Collector, **kw: object) -> SyslogSource:
    settings = SyslogSettings.model_validate({"listen": "127.0.0.1:0", "batch_ms": 10, **kw})
    source = SyslogSource("net", settings)
    source.start(collector)
    running.append(source)
    return source


def _udp(source: SyslogSource) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(source.address)
    return sock


def _counts(source: SyslogSource) -> tuple[int, int]:
    """(received, delivered + rejected + dropped)."""
    st = source.stats()
    return int(st.detail["received"]), st.lines + st.rejected + st.dropped


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_udp_messages_arrive_as_lines_with_their_peer(running, collector, loop):
    """RFC 3164 and RFC 5424 datagrams arrive intact, one line each, origin udp://peer."""
    source = _start(running, collector, loop=loop)
    with _udp(source) as sock:
        sock.send(RFC3164.encode())
        sock.send(RFC5424.encode() + b"\n")
        port = sock.getsockname()[1]
        assert collector.wait_lines(2) == [RFC3164, RFC5424]
    assert {c.origin for c in collector.chunks} == {f"udp://127.0.0.1:{port}"}
    assert all(c.source == "net" and c.received_at.tzinfo is not None for c in collector.chunks)
    st = source.stats()
    assert (st.lines, st.rejected, st.dropped, st.detail["received"]) == (2, 0, 0, "2")


def test_udp_over_ipv6(running, collector):
    """A listener on [::1] names its IPv6 peers in brackets."""
    source = _start(running, collector, listen="[::1]:0")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.sendto(RFC3164.encode(), source.address)
        port = sock.getsockname()[1]
        assert collector.wait_lines(1) == [RFC3164]
    assert collector.chunks[0].origin == f"udp://[::1]:{port}"


def test_udp_rejects_say_why_and_lines_keep_one_message_each(running, collector):
    """Empty, binary and oversize datagrams are rejects with reasons; bad UTF-8 is replaced
    and counted; a line break inside a message is escaped as #012."""
    source = _start(running, collector, max_message=100)
    with _udp(source) as sock:
        for payload in (b"", b"\x00\x01\x02binary", b"x" * 101, b"caf\xe9 latin-1", b"a\nb"):
            sock.send(payload)
        collector.wait_for(lambda c: len(c.lines) + len(c.rejects) == 5)
    assert collector.lines == ["caf\ufffd latin-1", "a#012b"]
    reasons = sorted(reason for reason, _ in collector.rejects)
    assert reasons == [
        "binary data (NUL byte)",
        "empty message",
        "message too long (101 bytes, limit 100)",
    ]
    assert source.stats().detail["replaced_utf8"] == "1"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tcp_newline_framing_split_and_joined_frames(running, collector, loop):
    """Newline framing: two frames in one packet, a frame split across packets, CRLF, and
    a last line without its newline at close."""
    source = _start(running, collector, protocol="tcp", loop=loop)
    with socket.create_connection(source.address) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(f"{RFC3164}\r\n{RFC5424}\n{RFC3164[:20]}".encode())
        collector.wait_lines(2)
        sock.sendall(f"{RFC3164[20:]}\nlast words".encode())
        collector.wait_lines(3)
    assert collector.wait_lines(4) == [RFC3164, RFC5424, RFC3164, "last words"]
    assert collector.chunks[0].origin.startswith("tcp://127.0.0.1:")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tcp_octet_counted_framing(running, collector, loop):
    """Octet counting: two frames in one packet, a frame split inside its header and inside
    its body, a multi-line message kept as one line, a frame cut by the close rejected."""
    source = _start(running, collector, protocol="tcp", loop=loop)
    one, two = RFC5424.encode(), RFC3164.encode()
    multi = b"<13>1 - h app - - - first\nsecond"
    with socket.create_connection(source.address) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"%d %s%d %s" % (len(one), one, len(two), two))
        collector.wait_lines(2)
        frame = b"%d %s" % (len(multi), multi)
        sock.sendall(frame[:1])
        time.sleep(0.02)
        sock.sendall(frame[1:10])
        time.sleep(0.02)
        sock.sendall(frame[10:] + b"500 <13>1 cut short")
        collector.wait_lines(3)
    collector.wait_for(lambda c: len(c.rejects) == 1)
    assert collector.lines == [RFC5424, RFC3164, "<13>1 - h app - - - first#012second"]
    assert collector.rejects[0][0] == "truncated frame at connection close (15 of 500 bytes)"


def test_tcp_limits_give_rejects_and_a_broken_header_closes_the_stream(running, collector):
    """A line over max_message is rejected and the next one read; a broken octet header
    is rejected and its connection closed."""
    source = _start(running, collector, protocol="tcp", max_message=64)
    with socket.create_connection(source.address) as sock:
        sock.sendall(b"y" * 200 + b"\n" + b"after the long one\n")
        collector.wait_lines(1)
    with socket.create_connection(source.address) as sock:
        sock.sendall(b"18 <13>1 - - ok - - -" + b"xx <13> not a header")
        assert sock.recv(10) == b""  # the listener closed it
    collector.wait_for(lambda c: len(c.rejects) == 2)
    assert collector.lines == ["after the long one", "<13>1 - - ok - - -"]
    reasons = [r for r, _ in collector.rejects]
    assert reasons[0].startswith("message too long (")
    assert reasons[1] == "bad octet-counting header"
    received, accounted = _counts(source)
    assert received == accounted == 4


def test_tcp_connection_limit(running, collector):
    """Connections past max_connections are closed at once and counted."""
    source = _start(running, collector, protocol="tcp", max_connections=1)
    with socket.create_connection(source.address) as first:
        first.sendall(b"hello\n")
        collector.wait_lines(1)
        with socket.create_connection(source.address) as second:
            assert second.recv(10) == b""
        first.sendall(b"still here\n")
        assert collector.wait_lines(2) == ["hello", "still here"]
    assert source.stats().detail["connections_refused"] == "1"


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tls_octet_counted_messages(running, collector, tmp_path, loop):
    """RFC 5425: octet-counted frames over TLS with the configured certificate; a client
    that does not speak TLS gets nothing through."""
    cert, key = _self_signed(tmp_path)
    source = _start(running, collector, protocol="tls", tls_cert=cert, tls_key=key, loop=loop)
    ctx = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(source.address) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        payload = RFC5424.encode()
        tls.sendall(b"%d %s" % (len(payload), payload) * 2)
        assert collector.wait_lines(2) == [RFC5424, RFC5424]
    assert collector.chunks[0].origin.startswith("tls://127.0.0.1:")
    with socket.create_connection(source.address) as plain:
        plain.sendall(f"{RFC3164}\n".encode())
        plain.settimeout(5)
        assert plain.recv(100) == b""  # the handshake fails and the listener hangs up
    assert collector.lines == [RFC5424, RFC5424]


def test_tls_client_certificate_required(running, collector, tmp_path):
    """With tls_client_ca, a client without a certificate is refused."""
    cert, key = _self_signed(tmp_path)
    source = _start(
        running, collector, protocol="tls", tls_cert=cert, tls_key=key, tls_client_ca=cert
    )
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the refusal comes in the handshake
    with socket.create_connection(source.address) as raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname="localhost").sendall(b"5 <13>x")
    ctx.load_cert_chain(cert, key)
    with socket.create_connection(source.address) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"<13>Nov 22 10:00:01 h app: with a certificate\n")
        assert collector.wait_lines(1) == ["<13>Nov 22 10:00:01 h app: with a certificate"]


def test_tls_bad_key_is_a_start_error(running, collector, tmp_path):
    """An unreadable certificate is a one-line error at start, and no port stays bound."""
    cert, _ = _self_signed(tmp_path)
    settings = SyslogSettings(
        protocol="tls", listen="127.0.0.1:0", tls_cert=cert, tls_key=tmp_path / "missing.pem"
    )
    with pytest.raises(SourceError, match="cannot load the TLS certificate or key"):
        SyslogSource("net", settings).start(collector)


def test_port_in_use_is_a_start_error(running, collector):
    """Listening on a port another socket holds is a clear error."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        source = SyslogSource("net", SyslogSettings(listen=f"127.0.0.1:{port}"))
        with pytest.raises(SourceError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            source.start(collector)


def _hostile(rng: random.Random, n: int) -> Iterator[bytes]:
    big = rng.randbytes(65_000)
    kinds = [
        lambda: rng.randbytes(rng.randint(1, 512)),  # random binary
        lambda: b"",  # empty
        lambda: b"<13>Nov 22 10:00:01 h app: caf\xe9 \xff\xfe half",  # bad UTF-8
        lambda: b"117 <34>1 2026-11-22T10:00:01Z h app - - - trunc",  # a truncated frame
        lambda: b"\x00" * rng.randint(1, 64),  # NULs
        lambda: RFC3164.encode()[: rng.randint(1, len(RFC3164))],  # cut anywhere
    ]
    for i in range(n):
        yield big if i % 100 == 0 else kinds[i % len(kinds)]()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_hostile_datagrams_are_all_accounted_for_and_the_source_keeps_serving(
    running, collector, loop
):
    """100k hostile datagrams (binary, 64 KB, bad UTF-8, truncated frames, empty): each is
    delivered, rejected with a reason, or counted as dropped (by vigil or the kernel), and
    a valid message still gets through afterwards."""
    source = _start(running, collector, batch_ms=20, loop=loop)
    sent = 0

    def settled() -> bool:
        detail = source.stats().detail
        return int(detail["received"]) + int(detail["kernel_drops"]) == sent

    with _udp(source) as sock:
        for payload in _hostile(random.Random(5), 100_000):
            sock.send(payload)
            sent += 1
            if sent % 2000 == 0:
                # Bursts the receiver can take on a busy machine too: what is measured
                # is the accounting, not how fast one core drains a socket.
                eventually(settled, what="the burst received or dropped by the kernel")
        eventually(settled, what="every datagram received or dropped by the kernel")
        eventually(lambda: _counts(source)[0] == _counts(source)[1], what="all accounted")
        sock.send(RFC5424.encode())
        collector.wait_for(lambda c: RFC5424 in c.lines)
    st = source.stats()
    received = int(st.detail["received"])
    assert received == st.lines + st.rejected + st.dropped
    assert received + int(st.detail["kernel_drops"]) == sent + 1
    assert received > 50_000
    reasons = {r.split(" (")[0] for r, _ in collector.rejects}
    assert reasons == {"binary data", "empty message"}
    assert int(st.detail["replaced_utf8"]) > 0


def test_full_queue_drops_datagrams_and_counts_them(running, collector):
    """A stalled pipeline: the source's byte budget fills, later datagrams are dropped
    and counted, and nothing is lost unaccounted once the pipeline moves again."""
    source = _start(running, collector, queue_bytes=65_536, batch_lines=10)
    collector.hold()
    with _udp(source) as sock:
        for i in range(5000):
            sock.send(b"<13>Nov 22 10:00:01 h app: message %05d " % i + b"." * 200)
        eventually(lambda: source.stats().dropped > 0, what="drops")
        collector.release()
        eventually(lambda: _counts(source)[0] == _counts(source)[1], what="all accounted")
    st = source.stats()
    assert st.lines > 0
    assert int(st.detail["received"]) + int(st.detail["kernel_drops"]) == 5000


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tcp_back_pressure_pauses_reading_and_loses_nothing(running, collector, loop):
    """A stalled pipeline pauses TCP reads (the sender waits); when it moves again every
    line arrives, in order."""
    source = _start(
        running, collector, protocol="tcp", queue_bytes=65_536, batch_lines=100, loop=loop
    )
    collector.hold()
    total = 20_000
    payload = b"".join(b"<13>Nov 22 10:00:01 h app: line %06d\n" % i for i in range(total))
    with socket.create_connection(source.address) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        eventually(lambda: source.stats().detail["paused"] == "true", what="paused")
        collector.release()
        sender.join(10)
        lines = collector.wait_lines(total)
    assert lines == [f"<13>Nov 22 10:00:01 h app: line {i:06d}" for i in range(total)]
    assert source.stats().dropped == 0


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_stop_returns_promptly_and_frees_the_port(collector, protocol):
    """stop() with a client still connected returns well within its deadline, delivers
    what was pending, and the port can be bound again at once."""
    settings = SyslogSettings(protocol=protocol, listen="127.0.0.1:0", batch_ms=5000)
    source = SyslogSource("net", settings)
    source.start(collector)
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as client:
        client.connect(source.address)
        client.send(f"{RFC3164}\n".encode())
        eventually(lambda: source.stats().detail["pending"] == "1", what="pending line")
        began = time.monotonic()
        source.stop()
        assert time.monotonic() - began < STOP_TIMEOUT
    assert collector.lines == [RFC3164]
    host, port = source.address
    again = SyslogSource("net", settings.model_copy(update={"listen": f"{host}:{port}"}))
    again.start(collector)
    again.stop()


def test_env_without_uvloop_refuses_loop_uvloop(monkeypatch, collector):
    """loop: uvloop without uvloop installed is a start error naming the extra."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    source = SyslogSource("net", SyslogSettings(listen="127.0.0.1:0", loop="uvloop"))
    with pytest.raises(SourceError, match=r"vigil\[fast\]"):
        source.start(collector)


@pytest.mark.parametrize(
    ("protocol", "flags"),
    [
        ("udp", ["-d", "--rfc5424", "--sd-id", "meta@32473", "--sd-param", 'seq="7"']),
        ("udp", ["-d", "--rfc3164"]),
        ("tcp", ["-T", "--rfc5424", "--octet-count"]),
        ("tcp", ["-T", "--rfc3164"]),
    ],
)
def test_util_linux_logger_lines_reach_the_syslog_parser(running, collector, protocol, flags):
    """Real senders: util-linux logger over UDP and TCP (newline and octet counting), in
    RFC 3164 and RFC 5424; the delivered lines parse into sshd events."""
    source = _start(running, collector, protocol=protocol)
    host, port = source.address
    message = "Failed password for root from 203.0.113.7 port 51515 ssh2"
    subprocess.run(
        ["logger", *flags, "-n", host, "-P", str(port), "-t", "sshd", "--id=4242", message],
        check=True,
        timeout=10,
    )
    lines = collector.wait_lines(1)
    assert lines[0].endswith(message)
    frame = pl.DataFrame({"line": lines, F.LOG_FILE_LINE: pl.Series([1], dtype=pl.UInt64)})
    events = parse_lines(SyslogParser(ParseContext(origin="net")), frame).events
    assert events.get_column(F.SOURCE_IP).to_list() == ["203.0.113.7"]
    assert events.get_column("process.name").to_list() == ["sshd"]


def test_a_stopped_source_starts_again_and_counts_afresh(collector):
    """start() after stop() listens again; its counts are those of the new run."""
    source = SyslogSource("net", SyslogSettings(listen="127.0.0.1:0", batch_ms=10))
    for run in range(2):
        source.start(collector)
        try:
            with _udp(source) as sock:
                sock.send(b"<13>Nov 22 10:00:01 h app: run %d" % run)
                collector.wait_lines(run + 1)
        finally:
            source.stop()
        assert source.stats().detail["received"] == "1"
        assert source.stats().lines == 1
