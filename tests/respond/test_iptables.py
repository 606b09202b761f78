"""The iptables/ipset backend in a namespace: its sets and rules, entry timeouts, chains
of the operator's choice, and repair of a rule deleted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.respond.netns import Listener, NetPair
from vigil.clock import FixedClock
from vigil.errors import ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.iptables import IptablesBackend, IptablesResponder, IptablesSettings
from vigil.respond.model import Action, ActionKind

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
RULE = "-m set --match-set {} src -m comment --comment vigil -j DROP"


def responder(
    netpair: NetPair, clock: FixedClock | None = None, **settings: Any
) -> IptablesResponder:
    context = ResponderContext(clock=clock) if clock else ResponderContext()
    return IptablesResponder(IptablesSettings(netns=netpair.firewall, **settings), context)


def block(target: str, ttl: float | None = None, expires_at: datetime | None = None) -> Action:
    span = timedelta(seconds=ttl) if ttl is not None else None
    return Action("iptables", ActionKind.BLOCK, target, span, NOW, expires_at=expires_at)


def rules(netpair: NetPair, tool: str = "iptables") -> list[str]:
    return netpair.firewall_run([tool, "-S"]).splitlines()


def entries(netpair: NetPair, set_name: str = "vigil4") -> dict[str, int]:
    """Entry → its timeout left, as `ipset save` lists them."""
    out: dict[str, int] = {}
    for line in netpair.firewall_run(["ipset", "save", set_name]).splitlines():
        words = line.split()
        if words[0] == "add":
            out[words[2]] = int(words[words.index("timeout") + 1])
    return out


def test_ensure_builds_sets_and_one_rule_per_family(netpair: NetPair) -> None:
    """hash:net sets with per-entry timeouts and one DROP rule at the head of INPUT for
    each family; a second ensure adds nothing."""
    ipt = responder(netpair)
    ipt.ensure()
    ipt.ensure()
    saved = netpair.firewall_run(["ipset", "save"])
    assert "create vigil4 hash:net family inet " in saved
    assert "create vigil6 hash:net family inet6 " in saved
    assert " timeout 0 " in saved
    assert rules(netpair)[3:] == [f"-A INPUT {RULE.format('vigil4')}"]
    assert rules(netpair, "ip6tables")[3:] == [f"-A INPUT {RULE.format('vigil6')}"]


def test_rule_goes_before_an_accept(netpair: NetPair, listener: Listener) -> None:
    """An ACCEPT rule already in INPUT does not let a banned source through: vigil's
    rule is inserted first."""
    netpair.firewall_run(["iptables", "-A", "INPUT", "-p", "tcp", "-j", "ACCEPT"])
    responder(netpair).act(block(netpair.clients4[0], 600))
    assert rules(netpair)[3].startswith("-A INPUT -m set")
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)


def test_timeout_is_what_the_record_has_left(netpair: NetPair) -> None:
    """A ban applied 50 minutes into a one-hour action gets about 600 s in the set."""
    clock = FixedClock(NOW + timedelta(minutes=50))
    responder(netpair, clock).act(block("203.0.113.7", 3600, NOW + timedelta(hours=1)))
    assert 595 <= entries(netpair)["203.0.113.7"] <= 600


def test_banning_again_refreshes_the_timeout(netpair: NetPair) -> None:
    """A second ban of a held address replaces its timeout."""
    ipt = responder(netpair)
    ipt.act(block("203.0.113.7", 60))
    ipt.act(block("203.0.113.7", 7200))
    assert list(entries(netpair)) == ["203.0.113.7"]
    assert entries(netpair)["203.0.113.7"] > 7000


def test_permanent_ban_is_timeout_zero(netpair: NetPair) -> None:
    """An action without TTL is an entry that never expires (ipset timeout 0)."""
    responder(netpair).act(block("2001:db8:1::/64"))
    assert entries(netpair, "vigil6") == {"2001:db8:1::/64": 0}


def test_ban_longer_than_ipset_allows_is_cut_to_its_maximum(netpair: NetPair) -> None:
    """A 30-day ban is kept for ipset's longest timeout (~24.8 days), not refused."""
    responder(netpair).act(block("203.0.113.7", 30 * 86400))
    assert 2_147_000 < entries(netpair)["203.0.113.7"] <= IptablesBackend.max_timeout


def test_operator_chains(netpair: NetPair) -> None:
    """The rule goes into each configured chain, a user chain (DOCKER-USER) included."""
    netpair.firewall_run(["iptables", "-N", "DOCKER-USER"])
    netpair.firewall_run(["ip6tables", "-N", "DOCKER-USER"])
    responder(netpair, chains=["DOCKER-USER", "FORWARD"]).ensure()
    assert f"-A DOCKER-USER {RULE.format('vigil4')}" in rules(netpair)
    assert f"-A FORWARD {RULE.format('vigil4')}" in rules(netpair)
    assert f"-A FORWARD {RULE.format('vigil6')}" in rules(netpair, "ip6tables")


def test_missing_chain_is_a_responder_error(netpair: NetPair) -> None:
    """A chain that does not exist fails the ban with iptables' reason."""
    with pytest.raises(ResponderError, match=r"cannot insert a rule in NOPE: .*No chain"):
        responder(netpair, chains=["NOPE"]).act(block("203.0.113.7", 60))


def test_rule_deleted_by_hand_comes_back_with_the_next_ban(
    netpair: NetPair, listener: Listener
) -> None:
    """With the DROP rule deleted but the set intact, the next ban inserts it again."""
    ipt = responder(netpair)
    ipt.act(block(netpair.clients4[0], 600))
    netpair.firewall_run(["iptables", "-D", "INPUT", *RULE.format("vigil4").split()])
    assert netpair.connect(netpair.clients4[0], netpair.firewall4, listener.port)
    ipt.act(block(netpair.clients4[1], 600))
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)


def test_destroyed_set_means_nothing_held_and_unban_is_fine(netpair: NetPair) -> None:
    """With vigil's sets gone (rules removed, sets destroyed), check() is empty and an
    unban has nothing to undo."""
    ipt = responder(netpair)
    ipt.act(block("203.0.113.7", 600))
    netpair.firewall_run(["iptables", "-F", "INPUT"])
    netpair.firewall_run(["ip6tables", "-F", "INPUT"])
    netpair.firewall_run(["ipset", "destroy"])
    assert ipt.check() == set()
    ipt.revert(block("203.0.113.7"))


def test_ipv6_off_refuses_ipv6(netpair: NetPair) -> None:
    """With `ipv6: false` no IPv6 set or rule is made and an IPv6 ban is refused."""
    ipt = responder(netpair, ipv6=False)
    ipt.act(block("203.0.113.7", 60))
    with pytest.raises(ResponderError, match="holds no IPv6"):
        ipt.act(block("2001:db8::7", 60))
    assert "vigil6" not in netpair.firewall_run(["ipset", "list", "-n"])
    assert rules(netpair, "ip6tables")[3:] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("chains", ["INPUT -j ACCEPT"]), ("set4", "1set"), ("set6", "a;b"), ("netns", "-n")],
)
def test_names_in_settings_are_validated(field: str, value: object) -> None:
    """Chain, set and namespace names must be plain identifiers."""
    with pytest.raises(ValidationError, match="should match pattern"):
        IptablesSettings.model_validate({field: value})
