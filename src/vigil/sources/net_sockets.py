"""Sockets and event loops of the network listeners: binding with one-line errors, the
TLS context, the optional uvloop, the kernel's drop counter, and peer names."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from typing import Any

from vigil.errors import SourceError
from vigil.sources.net_settings import SyslogSettings


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The event loop `kind` asks for: `uvloop`, `asyncio`, or `auto` (uvloop if installed)."""
    if kind != "asyncio":
        try:
            import uvloop  # noqa: PLC0415 - optional dependency (extra `fast`)
        except ImportError:
            if kind == "uvloop":
                raise SourceError(
                    "loop: uvloop is not installed (pip install 'vigil[fast]')"
                ) from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def tls_context(settings: SyslogSettings) -> ssl.SSLContext:
    if settings.tls_cert is None or settings.tls_key is None:
        raise SourceError("protocol tls needs tls_cert and tls_key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
        if settings.tls_client_ca is not None:
            ctx.load_verify_locations(settings.tls_client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise SourceError(f"cannot load the TLS certificate or key: {e}") from e
    return ctx


def bind_socket(host: str, port: int, kind: socket.SocketKind, rcvbuf: int | None) -> socket.socket:
    """A bound (and, for TCP, listening) socket; an address in use is a one-line error."""
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=kind)[0]
    except socket.gaierror as e:
        raise SourceError(f"cannot resolve listen address {host}: {e.strerror}") from e
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind(addr)
        if kind == socket.SOCK_STREAM:
            sock.listen(512)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise SourceError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    return sock


def kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped for this socket (its receive buffer was full), from
    /proc/net/udp[6]; None where that is not available."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
        name = "udp6" if sock.family == socket.AF_INET6 else "udp"
        with open(f"/proc/net/{name}", encoding="ascii") as table:
            for row in table:
                cols = row.split()
                if len(cols) > 12 and cols[9] == inode:
                    return int(cols[12])
    except (OSError, ValueError):
        return None
    return None


def peer_origin(scheme: str, addr: Any) -> str:
    host, port = addr[0], addr[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
