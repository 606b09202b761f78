"""The allowlist: configured CIDRs, loopback, the host's addresses and the SSH peer."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest

from tests.respond.netns import net_pair
from vigil.respond.allowlist import Allowlist, host_addresses, parse_ip_addr, ssh_peers
from vigil.respond.runner import LocalRunner


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_overlap_is_protection() -> None:
    """A block that overlaps a protected network is refused, in either direction."""
    allow = Allowlist.build(["198.51.100.0/25"], host=[], env={})
    assert allow.protects(net("198.51.100.7/32")) is not None
    assert allow.protects(net("198.51.100.0/24")) is not None  # contains protected ones
    assert allow.protects(net("198.51.100.128/32")) is None
    assert allow.protects(net("2001:db8::1/128")) is None


def test_loopback_host_and_ssh_peer() -> None:
    """Loopback, the host's own addresses and the SSH session's ends are protected."""
    allow = Allowlist.build(
        [],
        host=["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.9"],
        env={"SSH_CONNECTION": "203.0.113.50 51000 192.0.2.1 22"},
    )
    why = {str(e.network): e.why for e in allow.entries}
    assert why["127.0.0.0/8"] == "loopback" and why["::1/128"] == "loopback"
    assert why["2001:db8::1/128"] == "host address"
    assert why["192.0.2.9/32"] == "host address"
    hit = allow.protects(net("203.0.113.50/32"))
    assert hit is not None and hit.why == "SSH session peer"


def test_ssh_peers_from_either_variable() -> None:
    """SSH_CONNECTION gives client and server, SSH_CLIENT the client; junk is ignored."""
    assert ssh_peers({"SSH_CLIENT": "2001:db8::9 40000 22"}) == ["2001:db8::9"]
    assert ssh_peers({"SSH_CONNECTION": "203.0.113.5 1 192.0.2.1 22"}) == [
        "203.0.113.5",
        "192.0.2.1",
    ]
    assert ssh_peers({"SSH_CLIENT": "$(id) 1 2"}) == []
    assert ssh_peers({}) == []


def test_parse_ip_addr() -> None:
    """The local addresses of `ip -j addr`, zone suffixes and odd entries tolerated."""
    doc = [
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
        {"ifname": "eth0", "addr_info": [{"local": "fe80::1%eth0"}, {"local": "junk"}, 5]},
        {"ifname": "eth1"},
    ]
    assert parse_ip_addr(json.dumps(doc)) == ["127.0.0.1", "fe80::1%eth0"]


def test_host_addresses_read_from_a_namespace() -> None:
    """host_addresses reads what `ip -j addr` reports, here inside a test namespace."""
    with net_pair("allow") as pair:
        found = host_addresses(LocalRunner(netns=pair.firewall))
    assert {"192.0.2.1", "2001:db8::1", "127.0.0.1"} <= set(found)


def test_host_addresses_without_ip_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `ip`, what the host name resolves to is used (never an exception)."""
    resolved = [(socket.AF_INET6, 1, 6, "", ("2001:db8::5%eth0", 0, 0, 2))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_: resolved)
    assert host_addresses(LocalRunner(netns="vigil-no-such-namespace")) == ["2001:db8::5"]
