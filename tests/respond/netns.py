"""Network namespaces for the response tests: a firewall and a client joined by a veth.

    client namespace                                  firewall namespace
    192.0.2.10 .11 .12/24                             192.0.2.1/24
    2001:db8::10 ::11/64  (one /64)      veth         2001:db8::1/64
    2001:db8:0:1::10/64   (another /64)  ────────     2001:db8:0:1::1/64

`net_pair("purpose")` creates both (names `vigil-<purpose>-<pid>-<n>-fw|cl`) and always
deletes them on exit; `NetPair.listen()` opens a TCP listener in the firewall namespace;
`NetPair.connect(source, destination, port)` tries a connection from one of the client's
addresses and says whether it was accepted. Sockets are opened inside a namespace by a
short-lived thread that joins it (setns is per thread), so no test spawns a process per
connection. Every address is a documentation address (RFC 5737, RFC 3849).

The host's own network (and firewall) is never touched: `host_firewall()` returns what
the host holds so a test can show it unchanged.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
# A dropped SYN shows as a connect timeout; this one keeps the tests fast.
DROP_TIMEOUT = 0.3
# An accepted connection answers within microseconds; the margin covers a neighbour
# (ARP/ND) entry that failed while the address was banned and must resolve again.
ACCEPT_TIMEOUT = 3.0

FIREWALL4 = "192.0.2.1"
FIREWALL6 = "2001:db8::1"
FIREWALL6_OTHER = "2001:db8:0:1::1"
CLIENTS4 = ("192.0.2.10", "192.0.2.11", "192.0.2.12")
CLIENTS6 = ("2001:db8::10", "2001:db8::11")
CLIENT6_OTHER = "2001:db8:0:1::10"

_names = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)


def unique_name(purpose: str) -> str:
    """A namespace name no other test (or parallel test run) uses."""
    return f"vigil-{purpose}-{os.getpid()}-{next(_names)}"


# unique_name()'s shape, with an optional role suffix (-fw, -cl).
_OURS = re.compile(r"^vigil-.+-(\d+)-\d+(?:-[a-z]+)?$")


def sweep_stale() -> list[str]:
    """Delete the namespaces left by test runs that were killed before their clean-up
    (the pid in the name is no longer alive); the names deleted."""
    swept: list[str] = []
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    for name in names:
        match = _OURS.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        ip("netns", "delete", name)
        swept.append(name)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def ip(*args: str) -> None:
    """Run `ip ARGS`, failing with ip's own message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def in_netns(netns: str, argv: list[str]) -> list[str]:
    """argv to run a program inside a namespace."""
    return ["ip", "netns", "exec", netns, *argv]


def run_in(netns: str, argv: list[str]) -> str:
    """Run a program inside a namespace and return its output; fails on a non-zero exit."""
    done = subprocess.run(in_netns(netns, argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {netns}: {done.stderr.strip()}")
    return done.stdout


def socket_in(netns: str, family: socket.AddressFamily) -> socket.socket:
    """A TCP socket that belongs to `netns` (for as long as it lives)."""
    made: list[socket.socket | BaseException] = []

    def enter_and_open() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, socket.SOCK_STREAM))
        except BaseException as e:  # handed to the caller's thread below
            made.append(e)

    # The thread ends in the namespace; the calling thread never leaves its own.
    worker = threading.Thread(target=enter_and_open, name=f"setns-{netns}")
    worker.start()
    worker.join()
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


@dataclass
class Listener:
    """A TCP listener (IPv4 and IPv6) that accepts and closes every connection."""

    sock: socket.socket
    port: int
    accepted: int = 0
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="listener", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # shut down by close()
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self.sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class NetPair:
    firewall: str
    client: str
    firewall4: str = FIREWALL4
    firewall6: str = FIREWALL6
    firewall6_other: str = FIREWALL6_OTHER
    clients4: tuple[str, ...] = CLIENTS4
    clients6: tuple[str, ...] = CLIENTS6
    client6_other: str = CLIENT6_OTHER
    listeners: list[Listener] = field(default_factory=list)

    def listen(self, port: int = 0) -> Listener:
        """A listener on every firewall address (port 0: any free port)."""
        sock = socket_in(self.firewall, socket.AF_INET6)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
        sock.listen(128)
        listener = Listener(sock, sock.getsockname()[1])
        listener.start()
        self.listeners.append(listener)
        return listener

    def connect(
        self, source: str, destination: str, port: int, timeout: float = ACCEPT_TIMEOUT
    ) -> bool:
        """True when a connection from `source` (a client address) is accepted, False
        when it times out (dropped); any other failure (refused, unreachable) raises."""
        sock = socket_in(self.client, _family(source))
        try:
            sock.bind((source, 0))
            sock.settimeout(timeout)
            sock.connect((destination, port))
        except TimeoutError:
            return False
        finally:
            sock.close()
        return True

    def dropped(self, source: str, destination: str, port: int) -> bool:
        """True when a connection from `source` is dropped (times out quickly)."""
        return not self.connect(source, destination, port, timeout=DROP_TIMEOUT)

    def firewall_run(self, argv: list[str]) -> str:
        return run_in(self.firewall, argv)


def create_pair(purpose: str) -> NetPair:
    base = unique_name(purpose)
    pair = NetPair(firewall=f"{base}-fw", client=f"{base}-cl")
    try:
        for netns in (pair.firewall, pair.client):
            ip("netns", "add", netns)
            ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", pair.firewall, "link", "add", "vfw0", "type", "veth", "peer", "name", "vcl0")
        ip("-n", pair.firewall, "link", "set", "vcl0", "netns", pair.client)
        firewall = [f"{pair.firewall4}/24", f"{pair.firewall6}/64", f"{pair.firewall6_other}/64"]
        clients = [f"{a}/24" for a in pair.clients4]
        clients += [f"{a}/64" for a in (*pair.clients6, pair.client6_other)]
        for netns, dev, addresses in (
            (pair.firewall, "vfw0", firewall),
            (pair.client, "vcl0", clients),
        ):
            for address in addresses:
                # nodad: an IPv6 address is usable at once instead of after ~1 s.
                extra = ["nodad"] if ":" in address else []
                ip("-n", netns, "addr", "add", address, "dev", dev, *extra)
            ip("-n", netns, "link", "set", dev, "up")
    except BaseException:
        delete_pair(pair)
        raise
    return pair


def delete_pair(pair: NetPair) -> None:
    """Close the pair's sockets and delete both namespaces (the veth goes with them)."""
    for listener in pair.listeners:
        listener.close()
    pair.listeners.clear()
    for netns in (pair.firewall, pair.client):
        if os.path.exists(os.path.join(NETNS_DIR, netns)):
            ip("netns", "delete", netns)


@contextlib.contextmanager
def net_pair(purpose: str) -> Iterator[NetPair]:
    """A fresh firewall/client pair, deleted on exit even when the body fails."""
    pair = create_pair(purpose)
    try:
        yield pair
    finally:
        delete_pair(pair)


def wait_until(condition: Callable[[], bool], timeout: float, pause: float = 0.05) -> bool:
    """Ask `condition` until it holds or `timeout` seconds pass; whether it held. The
    pause between asks keeps a cheap condition (a listing) from spinning a core."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)


def host_firewall() -> dict[str, str]:
    """What the host's own firewall holds (without counters), to show it unchanged."""
    listings = {
        "nft": ["nft", "-s", "list", "ruleset"],
        "ipset": ["ipset", "list", "-n"],
        "iptables": ["iptables", "-S"],
        "ip6tables": ["ip6tables", "-S"],
    }
    out: dict[str, str] = {}
    for name, argv in listings.items():
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        out[name] = f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    return out
