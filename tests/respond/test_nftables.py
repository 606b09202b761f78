"""The nftables backend in a namespace: its table, the element timeouts it writes, how it
keeps addresses apart from prefixes, and how it repairs a flushed ruleset."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.respond.netns import Listener, NetPair
from vigil.clock import FixedClock
from vigil.errors import ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind
from vigil.respond.nftables import (
    NftablesBackend,
    NftablesResponder,
    NftablesSettings,
    element_networks,
)
from vigil.respond.runner import Completed

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def responder(
    netpair: NetPair, clock: FixedClock | None = None, **settings: Any
) -> NftablesResponder:
    context = ResponderContext(clock=clock) if clock else ResponderContext()
    return NftablesResponder(NftablesSettings(netns=netpair.firewall, **settings), context)


def block(target: str, ttl: float | None = None, expires_at: datetime | None = None) -> Action:
    span = timedelta(seconds=ttl) if ttl is not None else None
    return Action("nftables", ActionKind.BLOCK, target, span, NOW, expires_at=expires_at)


def table(netpair: NetPair, name: str = "vigil", family: str = "inet") -> dict[str, list[Any]]:
    """The objects of a table in the firewall namespace, by kind."""
    listed = json.loads(netpair.firewall_run(["nft", "-j", "list", "table", family, name]))
    out: dict[str, list[Any]] = {}
    for item in listed["nftables"]:
        for kind, value in item.items():
            out.setdefault(kind, []).append(value)
    return out


def elements(netpair: NetPair, set_name: str) -> list[Any]:
    sets = {s["name"]: s for s in table(netpair)["set"]}
    return list(sets[set_name].get("elem", []))


def test_ensure_builds_the_documented_table(netpair: NetPair) -> None:
    """Four sets (addresses with timeouts, prefixes as intervals with timeouts), two
    named counters and an input chain at priority -10 that drops from every set."""
    responder(netpair).ensure()
    listed = table(netpair)
    sets = {s["name"]: (s["type"], sorted(s["flags"])) for s in listed["set"]}
    assert sets == {
        "banned4": ("ipv4_addr", ["timeout"]),
        "banned4_nets": ("ipv4_addr", ["interval", "timeout"]),
        "banned6": ("ipv6_addr", ["timeout"]),
        "banned6_nets": ("ipv6_addr", ["interval", "timeout"]),
    }
    assert {c["name"] for c in listed["counter"]} == {"dropped4", "dropped6"}
    [chain] = listed["chain"]
    assert (chain["name"], chain["hook"], chain["prio"], chain["policy"]) == (
        "input",
        "input",
        -10,
        "accept",
    )
    drops = [rule for rule in listed["rule"] if {"drop": None} in rule["expr"]]
    assert {rule["expr"][0]["match"]["right"] for rule in drops} == {f"@{s}" for s in sets}


def test_timeout_is_what_the_record_has_left(netpair: NetPair) -> None:
    """A ban applied 50 minutes into a one-hour action gets a 600 s element timeout."""
    clock = FixedClock(NOW + timedelta(minutes=50))
    responder(netpair, clock).act(block("203.0.113.7", 3600, NOW + timedelta(hours=1)))
    [element] = elements(netpair, "banned4")
    assert element["elem"]["val"] == "203.0.113.7"
    assert element["elem"]["timeout"] == 600


def test_banning_again_refreshes_the_timeout(netpair: NetPair) -> None:
    """A second ban of a held address replaces its timeout (one element, new timeout)."""
    nft = responder(netpair)
    nft.act(block("203.0.113.7", 60))
    nft.act(block("203.0.113.7", 7200))
    [element] = elements(netpair, "banned4")
    assert element["elem"]["timeout"] == 7200


def test_permanent_ban_has_no_timeout(netpair: NetPair) -> None:
    """An action without TTL is an element without timeout."""
    responder(netpair).act(block("2001:db8:1::/64"))
    assert elements(netpair, "banned6_nets") == [{"prefix": {"addr": "2001:db8:1::", "len": 64}}]


def test_address_inside_a_banned_prefix_is_its_own_ban(
    netpair: NetPair, listener: Listener
) -> None:
    """An address banned inside a banned prefix stays banned when the prefix is lifted."""
    nft = responder(netpair)
    nft.act(block("192.0.2.8/29", 600))  # all three client addresses
    nft.act(block(netpair.clients4[0], 600))
    nft.revert(block("192.0.2.8/29"))
    assert nft.check() == {netpair.clients4[0]}
    assert netpair.connect(netpair.clients4[1], netpair.firewall4, listener.port)
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)


def test_overlapping_prefixes_are_refused_and_unban_of_one_is_fine(netpair: NetPair) -> None:
    """A prefix inside a banned prefix is refused by the kernel and said so; unbanning
    it (never held) succeeds and leaves the wider ban in place."""
    nft = responder(netpair)
    nft.act(block("198.51.100.0/24", 600))
    with pytest.raises(ResponderError, match=r"cannot ban 198\.51\.100\.0/28: .*overlaps"):
        nft.act(block("198.51.100.0/28", 600))
    nft.revert(block("198.51.100.0/28"))
    assert nft.check() == {"198.51.100.0/24"}


def test_flushed_ruleset_is_rebuilt_by_the_next_ban(netpair: NetPair, listener: Listener) -> None:
    """After `nft flush ruleset` behind vigil's back, the next ban recreates the table."""
    nft = responder(netpair)
    nft.act(block(netpair.clients4[0], 600))
    netpair.firewall_run(["nft", "flush", "ruleset"])
    assert nft.check() == set()
    nft.act(block(netpair.clients4[1], 600))
    assert nft.check() == {netpair.clients4[1]}
    assert netpair.dropped(netpair.clients4[1], netpair.firewall4, listener.port)


def test_rules_deleted_by_hand_come_back_with_the_next_ban(
    netpair: NetPair, listener: Listener
) -> None:
    """With the drop rules gone but the sets intact, the next ban puts the rules back."""
    nft = responder(netpair)
    nft.act(block(netpair.clients4[0], 600))
    netpair.firewall_run(["nft", "flush", "chain", "inet", "vigil", "input"])
    assert netpair.connect(netpair.clients4[0], netpair.firewall4, listener.port)
    nft.act(block(netpair.clients4[1], 600))
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)


def test_counters_survive_ensure(netpair: NetPair, listener: Listener) -> None:
    """The drop counter counts dropped packets and keeps its total when ensure() rebuilds
    the rules."""
    nft = responder(netpair)
    nft.act(block(netpair.clients4[0], 600))
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)

    def dropped4() -> int:
        counters = {c["name"]: c for c in table(netpair)["counter"]}
        return int(counters["dropped4"]["packets"])

    before = dropped4()
    assert before > 0
    nft.ensure()
    assert dropped4() == before


def test_changed_hooks_and_priority_replace_the_chains(netpair: NetPair) -> None:
    """Settings with input+forward make two chains; back to input at priority 5, the
    forward chain goes and the input chain moves."""
    responder(netpair, hooks=["input", "forward"]).ensure()
    assert {c["name"]: c["prio"] for c in table(netpair)["chain"]} == {
        "input": -10,
        "forward": -10,
    }
    responder(netpair, priority=5).ensure()
    assert {c["name"]: c["prio"] for c in table(netpair)["chain"]} == {"input": 5}


def test_ip_family_table_refuses_ipv6(netpair: NetPair) -> None:
    """A `family: ip` table holds IPv4 bans only; an IPv6 ban is a responder error."""
    nft = responder(netpair, family="ip", table="edge")
    nft.act(block("203.0.113.7", 60))
    with pytest.raises(ResponderError, match="holds no IPv6"):
        nft.act(block("2001:db8::7", 60))
    assert {s["name"] for s in table(netpair, "edge", "ip")["set"]} == {"banned4", "banned4_nets"}
    assert nft.check() == {"203.0.113.7"}


def test_check_creates_nothing(netpair: NetPair) -> None:
    """Asking what is held before any ban leaves the namespace's ruleset empty."""
    assert responder(netpair).check() == set()
    assert json.loads(netpair.firewall_run(["nft", "-j", "list", "tables"]))["nftables"][1:] == []


def test_missing_namespace_is_a_responder_error() -> None:
    """When nft cannot run (here: no such namespace) act raises with the reason."""
    nft = NftablesResponder(NftablesSettings(netns="vigil-absent-ns"), ResponderContext())
    with pytest.raises(ResponderError, match="vigil-absent-ns"):
        nft.act(block("203.0.113.7", 60))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("table", "vigil; flush ruleset"),
        ("table", "vigil\n"),
        ("set4", "-x"),
        ("netns", "a b"),
        ("set6", "x" * 40),
    ],
)
def test_names_in_settings_are_validated(field: str, value: str) -> None:
    """Table, set and namespace names must be plain identifiers."""
    with pytest.raises(ValidationError, match="should match pattern"):
        NftablesSettings.model_validate({field: value})


class Recorder:
    def __init__(self) -> None:
        self.stdin: list[str] = []

    def run(self, argv: list[str], stdin: str | None = None, *, check: bool = True) -> Completed:
        if stdin is not None:
            self.stdin.append(stdin)
        return Completed(0, '{"nftables": []}', "")


def test_prefixes_go_to_nft_as_prefix_objects() -> None:
    """nft reads a bare "a.b.c.d/n" string as a host name: prefixes are sent as objects."""
    runner = Recorder()
    NftablesBackend(NftablesSettings(), runner).act(block("198.51.100.0/24", 60))
    payload = runner.stdin[-1]
    assert '"prefix": {"addr": "198.51.100.0", "len": 24}' in payload
    assert "198.51.100.0/24" not in payload


def test_listed_elements_of_every_shape_read_back() -> None:
    """Plain, timed, prefix and range elements (as nft lists them) become canonical."""
    assert element_networks("203.0.113.7") == ["203.0.113.7"]
    assert element_networks({"elem": {"val": "2001:db8::7", "timeout": 5}}) == ["2001:db8::7"]
    prefix = {"elem": {"val": {"prefix": {"addr": "2001:db8:1::", "len": 64}}, "timeout": 9}}
    assert element_networks(prefix) == ["2001:db8:1::/64"]
    assert element_networks({"range": ["198.51.100.0", "198.51.100.5"]}) == [
        "198.51.100.0/30",
        "198.51.100.4/31",
    ]
    with pytest.raises(ResponderError, match="unexpected set element"):
        element_networks({"concat": ["x"]})
