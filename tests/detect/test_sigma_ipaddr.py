"""Vectorised address keys and CIDR prefixes agree with Python's ipaddress."""

from __future__ import annotations

import ipaddress

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.detect.sigma.ipaddr import address_key, in_networks, network_prefixes


def _expected_key(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    width = 8 if address.version == 4 else 32
    return f"{address.version}{int(address):0{width}x}"


def _keys(texts: list[str]) -> list[str | None]:
    return pl.DataFrame({"t": texts}).select(address_key(pl.col("t"))).to_series().to_list()


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).exploded.upper()),
    # Mostly-zero IPv6 addresses exercise '::' in every position.
    st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xDB8]), min_size=8, max_size=8).map(
        lambda g: str(ipaddress.IPv6Address(sum(v << (16 * (7 - i)) for i, v in enumerate(g))))
    ),
    st.integers(0, 2**32 - 1).map(lambda n: f"::ffff:{ipaddress.IPv4Address(n)}"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(addresses, min_size=1, max_size=50))
def test_address_key_matches_ipaddress(texts: list[str]) -> None:
    """Every valid IPv4/IPv6 text form gets the key its integer value gives."""
    assert _keys(texts) == [_expected_key(t) for t in texts]


@pytest.mark.parametrize(
    "text",
    [
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        ":1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:",
        "12345::",
        "1:::2",
        "g::1",
        "",
        "1:2:3:4:5:6:7",
        "::ffff:300.0.0.1",
        "1::2:",
        "256.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "1.2.3.4.5",
        "1.2.3.4:80",
        "not an address",
    ],
)
def test_invalid_text_has_no_key(text: str) -> None:
    """Text that is not an address gets no key (as ipaddress refuses it)."""
    assert _expected_key(text) is None
    assert _keys([text]) == [None]


def test_zone_id_is_dropped() -> None:
    """A scoped IPv6 address (fe80::1%eth0) is the address without its zone."""
    assert _keys(["fe80::1%eth0"]) == [_expected_key("fe80::1")]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
            lambda t: ipaddress.IPv4Network((t[0], t[1]), strict=False)
        ),
        st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
            lambda t: ipaddress.IPv6Network((t[0], t[1]), strict=False)
        ),
    ),
    st.integers(0, 2**128 - 1),
)
def test_in_networks_matches_ipaddress(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, seed: int
) -> None:
    """Membership by key prefix equals ipaddress membership, at the edges and around them."""
    first, last = int(network.network_address), int(network.broadcast_address)
    top = 2**network.max_prefixlen - 1
    probes = {first, last, max(first - 1, 0), min(last + 1, top), first + seed % (last - first + 1)}
    cls = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address
    texts = [str(cls(p)) for p in sorted(probes)]
    got = pl.DataFrame({"t": texts}).select(in_networks(pl.col("t"), [network])).to_series()
    assert got.to_list() == [cls(p) in network for p in sorted(probes)]


@pytest.mark.parametrize(
    ("network", "count"),
    [
        ("10.0.0.0/8", 1),
        ("172.16.0.0/12", 1),
        ("192.0.2.0/25", 8),
        ("192.0.2.0/27", 2),
        ("0.0.0.0/0", 1),
        ("::/1", 8),
    ],
)
def test_network_prefix_count(network: str, count: int) -> None:
    """A nibble-aligned network is one key prefix; otherwise up to 8."""
    assert len(network_prefixes(ipaddress.ip_network(network))) == count
