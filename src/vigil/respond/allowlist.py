"""The allowlist: addresses no block may ever touch, whoever asks (policy or operator).

It holds the operator's configured CIDRs plus what vigil finds out itself: loopback, the
host's own addresses, and the address of the SSH session the operator is connected from
(a ban of that one is how people lock themselves out of a remote machine). A block is
refused when its network *overlaps* a protected one, so a /24 that contains the
operator's address is refused as surely as the address itself.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vigil.errors import ResponderError
from vigil.respond.runner import LocalRunner, Runner

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@dataclass(frozen=True)
class Protected:
    network: IPNetwork
    why: str  # "configured", "loopback", "host address", "SSH session peer"


class Allowlist:
    def __init__(self, entries: Iterable[Protected]) -> None:
        self.entries = tuple(entries)

    @classmethod
    def build(
        cls,
        configured: Iterable[str] = (),
        *,
        host: Iterable[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Allowlist:
        """The configured CIDRs, loopback, the host's addresses (found with `ip -j addr`
        unless given) and the SSH peer named by the environment (os.environ unless given)."""
        entries = [
            Protected(ipaddress.ip_network(c, strict=False), "configured") for c in configured
        ]
        entries += [Protected(n, "loopback") for n in LOOPBACK]
        for address in host_addresses() if host is None else host:
            entries.append(Protected(_host(address), "host address"))
        for address in ssh_peers(os.environ if env is None else env):
            entries.append(Protected(_host(address), "SSH session peer"))
        return cls(entries)

    def protects(self, net: IPNetwork) -> Protected | None:
        """The entry that forbids blocking `net`, or None when it may be blocked."""
        for entry in self.entries:
            if entry.network.version == net.version and entry.network.overlaps(net):
                return entry
        return None

    def networks(self) -> list[tuple[str, str]]:
        return [(str(e.network), e.why) for e in self.entries]


def ssh_peers(env: Mapping[str, str]) -> list[str]:
    """The client address of the operator's SSH session: SSH_CONNECTION is
    `client port server port`, the older SSH_CLIENT `client port port`. The server side of
    SSH_CONNECTION is this host's own address, protected as well."""
    found: list[str] = []
    for name, positions in (("SSH_CONNECTION", (0, 2)), ("SSH_CLIENT", (0,))):
        parts = env.get(name, "").split()
        for i in positions:
            if i < len(parts) and _is_address(parts[i]):
                found.append(parts[i])
    return list(dict.fromkeys(found))


def host_addresses(runner: Runner | None = None) -> list[str]:
    """Every address configured on this host's interfaces (or a namespace's, through its
    runner), read from `ip -j addr`; without iproute2, what the host name resolves to."""
    try:
        done = (runner or LocalRunner()).run(["ip", "-j", "addr", "show"])
        return parse_ip_addr(done.stdout)
    except (ResponderError, ValueError):
        # Without `ip` (a container, a BSD), the name's addresses are the best guess left.
        return _resolved_addresses()


def parse_ip_addr(text: str) -> list[str]:
    """The `local` addresses of `ip -j addr` output; ValueError when it is not that JSON."""
    doc = json.loads(text)
    if not isinstance(doc, list):
        raise ValueError("ip -j addr did not print a list")
    out: list[str] = []
    for link in doc:
        for info in link.get("addr_info", []) if isinstance(link, dict) else []:
            local = info.get("local") if isinstance(info, dict) else None
            if isinstance(local, str) and _is_address(local):
                out.append(local)
    return out


def _resolved_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return []
    return list(dict.fromkeys(str(i[4][0]).split("%")[0] for i in infos))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    return True


def _host(address: str) -> IPNetwork:
    addr = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return ipaddress.ip_network(addr)
