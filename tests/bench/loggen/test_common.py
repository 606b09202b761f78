"""Shared generator machinery: timelines, address pools, cutting to size, rendering."""

from __future__ import annotations

import ipaddress

import numpy as np
import polars as pl
import pytest
from bench.loggen.common import (
    AttackerPool,
    Template,
    finish,
    ipv4_strings,
    place,
    private_v4,
    render_templates,
    timelines,
)


def test_timelines_start_each_actor_at_its_start_and_add_gaps() -> None:
    """Actor g's first event is at starts[g]; later ones follow by their gaps."""
    owner, position, t = timelines(
        np.array([100, 500]), np.array([3, 2]), np.array([9, 1, 2, 9, 5])
    )
    assert owner.tolist() == [0, 0, 0, 1, 1]
    assert position.tolist() == [0, 1, 2, 0, 1]
    assert t.tolist() == [100, 101, 103, 500, 505]


def test_timelines_reject_an_actor_without_events() -> None:
    """Every actor needs at least one event."""
    with pytest.raises(ValueError, match="at least one event"):
        timelines(np.array([0, 0]), np.array([1, 0]), np.array([0]))


def test_place_keeps_actors_inside_the_span() -> None:
    """Actors shorter than the span start and end inside it."""
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 50, 200)
    owner, _, t = place(rng, 1000, 3600, counts, rng.integers(0, 60, int(counts.sum())))
    assert t.min() >= 1000
    assert t.max() < 1000 + 3600
    assert len(owner) == counts.sum()


def test_attacker_pool_hands_out_distinct_documentation_addresses_first() -> None:
    """The first 762 IPv4 attackers come from RFC 5737 ranges, then RFC 2544, all distinct."""
    pool = AttackerPool(np.random.default_rng(1))
    doc = pool.take_v4(762).to_list()
    more = pool.take_v4(100).to_list()
    nets = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    assert all(any(ipaddress.ip_address(a) in n for n in nets) for a in doc)
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("198.18.0.0/16") for a in more)
    assert len(set(doc + more)) == 862
    six = pool.take_v6(50).to_list()
    assert len(set(six)) == 50
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("2001:db8::/32") for a in six)


def test_attacker_pool_can_leave_out_the_defended_network() -> None:
    """An excluded documentation /24 never appears among attackers."""
    pool = AttackerPool(np.random.default_rng(2), exclude_nets=("198.51.100.0",))
    doc = pool.take_v4(508).to_list()
    assert not any(a.startswith("198.51.100.") for a in doc)


def test_attacker_pool_refuses_more_addresses_than_it_has() -> None:
    """Asking for more distinct addresses than the ranges hold is an error, not a repeat."""
    pool = AttackerPool(np.random.default_rng(3))
    with pytest.raises(ValueError, match="distinct IPv4 attackers"):
        pool.take_v4(70_000)


def test_ipv4_strings_and_private_addresses_are_valid() -> None:
    """Integers become dotted quads; benign addresses are RFC 1918 hosts."""
    assert ipv4_strings(np.array([0xC0000201, 0x0A000001])).to_list() == ["192.0.2.1", "10.0.0.1"]
    benign = private_v4(np.random.default_rng(4), 500).to_list()
    assert all(ipaddress.ip_address(a).is_private for a in benign)
    assert not any(a.endswith((".0", ".255")) for a in benign)


def test_finish_drops_the_latest_background_rows_only() -> None:
    """Cutting to size removes background rows from the end and keeps attackers whole."""
    rows = pl.DataFrame(
        {
            "t": [1, 2, 3, 4, 5, 6],
            "conn": [0, 0, 0, 0, 0, 0],
            "actor": [None, 7, None, 7, None, 7],
        },
        schema={"t": pl.Int64, "conn": pl.Int64, "actor": pl.Int64},
    )
    kept = finish(rows, 4, ["conn"])
    assert kept.get_column("t").to_list() == [1, 2, 4, 6]


def test_finish_refuses_to_pad() -> None:
    """Fewer rows than asked for is a generator bug, reported as such."""
    rows = pl.DataFrame({"t": [1], "conn": [0], "actor": [None]})
    with pytest.raises(ValueError, match="generated only 1 of 2"):
        finish(rows, 2, ["conn"])


def test_render_templates_uses_each_rows_template_and_keeps_order() -> None:
    """Rows render with the template their code names, in row order."""
    frame = pl.DataFrame({"tmpl": [1, 0, 1], "ip": ["a", "b", "c"], "n": [1, 2, 3]})
    templates = [Template("zero {ip}"), Template("one {ip} {n}")]
    assert render_templates(frame, templates).to_list() == ["one a 1", "zero b", "one c 3"]


def test_render_templates_reports_a_missing_field() -> None:
    """A template field left null is a generator bug, never a silently empty line."""
    frame = pl.DataFrame({"tmpl": [0], "ip": [None]}, schema={"tmpl": pl.Int64, "ip": pl.String})
    with pytest.raises(ValueError, match="template field was null"):
        render_templates(frame, [Template("x {ip}")])
