"""Validation of what an action may touch. A target comes from log data, so it is
hostile until proven otherwise: it must parse as exactly one address, prefix or user
name, and it is rewritten in canonical form before any command sees it."""

from __future__ import annotations

import ipaddress
import re

from vigil.errors import TargetRefused

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# POSIX portable user names as useradd accepts them by default (no leading '-', so a
# name is never read as an option).
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}\$?")

# Widest prefix a block may cover unless the operator allows wider.
DEFAULT_MAX_PREFIX = {4: 24, 6: 48}


def network_target(value: object, *, max_prefix: dict[int, int] | None = None) -> IPNetwork:
    """An address or CIDR prefix from an alert field, or TargetRefused with the reason.
    Addresses become /32 or /128 networks; IPv4-mapped IPv6 addresses become IPv4."""
    if not isinstance(value, str):
        raise TargetRefused(f"not an address: {value!r}")
    text = value.strip()
    if text != value or not text or len(text) > 64 or not re.fullmatch(r"[0-9A-Fa-f:./]+", text):
        raise TargetRefused(f"not an address: {value!r}")
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise TargetRefused(f"not an address: {value!r} ({e})") from None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
        mapped = net.network_address.ipv4_mapped
        net = ipaddress.ip_network(f"{mapped}/{max(0, net.prefixlen - 96)}")
    limits = max_prefix or DEFAULT_MAX_PREFIX
    if net.prefixlen < limits[net.version]:
        raise TargetRefused(
            f"{net} is wider than the widest allowed block (/{limits[net.version]} for "
            f"IPv{net.version})"
        )
    if net.is_unspecified or net.network_address.is_loopback or net.is_multicast:
        raise TargetRefused(f"{net} is a loopback, multicast or unspecified address")
    return net


def canonical(net: IPNetwork) -> str:
    """How a network target is written in records: a bare address for one host."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def widen(net: IPNetwork, prefix: int | None) -> IPNetwork:
    """The prefix of `net` to block when the policy bans whole IPv6 /64s (or similar)."""
    if prefix is None or net.prefixlen <= prefix:
        return net
    return net.supernet(new_prefix=prefix)


def user_target(value: object) -> str:
    if not isinstance(value, str) or not USER_NAME.fullmatch(value):
        raise TargetRefused(f"not a valid user name: {value!r}")
    if value == "root":
        raise TargetRefused("refusing to lock root")
    return value
