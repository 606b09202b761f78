"""Socket helpers of the listeners: binding errors, the kernel's drop counter, peer names."""

from __future__ import annotations

import socket

import pytest

from vigil.errors import SourceError
from vigil.sources.net_sockets import bind_socket, kernel_drops, peer_origin


def test_kernel_drops_counts_datagrams_lost_to_a_full_receive_buffer():
    """A socket nobody reads, with a small buffer: the kernel's drop count for exactly
    that socket grows, and is 0 before."""
    sock = bind_socket("127.0.0.1", 0, socket.SOCK_DGRAM, 4096)
    try:
        assert kernel_drops(sock) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(200):
                sender.sendto(b"x" * 1000, sock.getsockname())
        drops = kernel_drops(sock)
        assert drops is not None
        assert drops > 0
    finally:
        sock.close()
    assert kernel_drops(sock) is None  # closed: nothing to read


def test_a_port_in_use_is_a_one_line_source_error():
    """A port in use is a SourceError naming the address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(SourceError, match=rf"cannot listen on 127\.0\.0\.1:{port}: "):
            bind_socket("127.0.0.1", port, socket.SOCK_STREAM, None)


def test_peer_origin_brackets_ipv6():
    """Origins read scheme://host:port, with IPv6 hosts in brackets."""
    assert peer_origin("udp", ("192.0.2.1", 514)) == "udp://192.0.2.1:514"
    assert peer_origin("tls", ("2001:db8::1", 6514, 0, 0)) == "tls://[2001:db8::1]:6514"
