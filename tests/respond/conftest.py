"""Fixtures of the response tests: a fresh firewall/client namespace pair per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.respond.netns import Listener, NetPair, create_pair, delete_pair, sweep_stale


@pytest.fixture(scope="session", autouse=True)
def _no_stale_namespaces() -> None:
    """Namespaces of an earlier run that was killed (so never cleaned up) are deleted
    before this one starts."""
    sweep_stale()


@pytest.fixture
def netpair() -> Iterator[NetPair]:
    """A firewall and a client namespace joined by a veth, deleted after the test even
    when it fails (see tests/respond/netns.py for the addresses)."""
    pair = create_pair("resp")
    try:
        yield pair
    finally:
        delete_pair(pair)


@pytest.fixture
def listener(netpair: NetPair) -> Listener:
    """A TCP listener on every address of the firewall namespace."""
    return netpair.listen()
