"""What every firewall backend does, shown on both (nftables, iptables/ipset) against the
real kernel inside namespaces the tests create: bans drop exactly the banned sources,
unban and TTL expiry let them in again, and what check() reports is what is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.respond.netns import Listener, NetPair, host_firewall, wait_until
from vigil.errors import TargetRefused
from vigil.respond.base import ResponderContext
from vigil.respond.firewall import FirewallBackend, remaining_seconds
from vigil.respond.iptables import IptablesBackend, IptablesResponder, IptablesSettings
from vigil.respond.model import Action, ActionKind
from vigil.respond.nftables import NftablesBackend, NftablesResponder, NftablesSettings
from vigil.respond.runner import Completed

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
BACKENDS = ["nftables", "iptables"]


def make(kind: str, netns: str) -> FirewallBackend:
    if kind == "nftables":
        return NftablesResponder(NftablesSettings(netns=netns), ResponderContext())
    return IptablesResponder(IptablesSettings(netns=netns), ResponderContext())


def block(target: str, ttl: float | None = None, expires_at: datetime | None = None) -> Action:
    span = timedelta(seconds=ttl) if ttl is not None else None
    return Action("test", ActionKind.BLOCK, target, span, NOW, expires_at=expires_at)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, netpair: NetPair) -> FirewallBackend:
    return make(request.param, netpair.firewall)


def test_ban_drops_the_banned_source_only(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """A banned address cannot connect; the client's other address still can."""
    banned, other = netpair.clients4[:2]
    backend.act(block(banned, 600))
    assert netpair.dropped(banned, netpair.firewall4, listener.port)
    assert netpair.connect(other, netpair.firewall4, listener.port)


def test_unban_lets_the_source_in_again(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """After revert the banned address connects again; reverting twice is no error."""
    banned = netpair.clients4[0]
    action = block(banned, 600)
    backend.act(action)
    assert netpair.dropped(banned, netpair.firewall4, listener.port)
    backend.revert(action)
    backend.revert(action)
    assert netpair.connect(banned, netpair.firewall4, listener.port)
    assert backend.check() == set()


def test_ban_expires_in_the_kernel_without_vigil(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """A 2 s ban is lifted by the kernel itself: the address connects again and is gone
    from check() with no further call to the responder."""
    banned = netpair.clients4[0]
    backend.act(block(banned, 2))
    assert netpair.dropped(banned, netpair.firewall4, listener.port)
    assert wait_until(
        lambda: not netpair.dropped(banned, netpair.firewall4, listener.port), timeout=5
    )
    assert backend.check() == set()


def test_ipv6_prefix_ban_blocks_every_address_inside(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """Banning 2001:db8::/64 drops both client addresses in it, not the one in another /64."""
    backend.act(block("2001:db8::/64", 600))
    for inside in netpair.clients6:
        assert netpair.dropped(inside, netpair.firewall6, listener.port)
    assert netpair.connect(netpair.client6_other, netpair.firewall6_other, listener.port)


def test_ipv6_address_ban_leaves_its_neighbour_alone(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """A single IPv6 address ban drops that address and not the next one in its /64."""
    banned, neighbour = netpair.clients6
    backend.act(block(banned, 600))
    # The neighbour first: the banned address's dropped neighbour solicitation would
    # otherwise hold up the neighbour's first packet for a retransmission (~1 s).
    assert netpair.connect(neighbour, netpair.firewall6, listener.port)
    assert netpair.dropped(banned, netpair.firewall6, listener.port)


def test_check_reports_exactly_the_banned_targets(
    backend: FirewallBackend, netpair: NetPair
) -> None:
    """check() lists addresses and prefixes of both families in canonical form."""
    targets = {"192.0.2.10", "198.51.100.0/24", "2001:db8::10", "2001:db8:1::/64"}
    for target in targets:
        backend.act(block(target, 600))
    backend.act(block("203.0.113.9"))  # permanent
    assert backend.check() == targets | {"203.0.113.9"}
    backend.revert(block("198.51.100.0/24"))
    assert backend.check() == targets - {"198.51.100.0/24"} | {"203.0.113.9"}


def test_check_of_a_firewall_never_used_is_empty(backend: FirewallBackend) -> None:
    """Asking before any ban finds nothing held (and is not an error)."""
    assert backend.check() == set()


def test_ensure_twice_is_harmless(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """A second ensure() neither fails nor loses a ban held before it."""
    backend.ensure()
    backend.act(block(netpair.clients4[0], 600))
    backend.ensure()
    backend.ensure()
    assert backend.check() == {netpair.clients4[0]}
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)


def test_banning_twice_holds_one_element(backend: FirewallBackend) -> None:
    """Acting twice on one target is one element, not an error or a duplicate."""
    backend.act(block("203.0.113.7", 60))
    backend.act(block("203.0.113.7", 600))
    assert backend.check() == {"203.0.113.7"}


def test_expired_action_is_removed_not_applied(backend: FirewallBackend) -> None:
    """Acting on a record whose expiry has passed leaves the target unheld."""
    backend.act(block("203.0.113.7", 600))
    backend.act(block("203.0.113.7", 600, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert backend.check() == set()


def test_host_firewall_untouched(
    backend: FirewallBackend, netpair: NetPair, listener: Listener
) -> None:
    """A whole ban cycle in the namespace leaves the host's own tables as they were."""
    before = host_firewall()
    backend.act(block(netpair.clients4[0], 600))
    assert netpair.dropped(netpair.clients4[0], netpair.firewall4, listener.port)
    backend.revert(block(netpair.clients4[0]))
    assert host_firewall() == before


class Recorder:
    """A runner that records commands and runs none."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def run(self, argv: list[str], stdin: str | None = None, *, check: bool = True) -> Completed:
        self.commands.append(argv)
        return Completed(0, '{"nftables": []}', "")


@pytest.mark.parametrize(
    "target",
    [
        "1.2.3.4 -j ACCEPT",
        "203.0.113.7; rm -rf /",
        "$(id)",
        "`id`",
        "203.0.113.7\n198.51.100.1",
        "0.0.0.0/0",
        "10.0.0.0/7",
        "2001::/15",
        "127.0.0.1",
        "::1",
        "",
        "example.org",
    ],
)
@pytest.mark.parametrize("backend_class", [NftablesBackend, IptablesBackend])
def test_hostile_target_refused_before_any_command(
    target: str, backend_class: type[NftablesBackend] | type[IptablesBackend]
) -> None:
    """A target that is not one plain address or acceptable prefix never reaches a
    command: the backend refuses it before running anything."""
    runner = Recorder()
    settings = NftablesSettings() if backend_class is NftablesBackend else IptablesSettings()
    backend = backend_class(settings, runner)  # type: ignore[arg-type]
    with pytest.raises(TargetRefused):
        backend.act(block(target, 60))
    with pytest.raises(TargetRefused):
        backend.revert(block(target))
    assert runner.commands == []


def test_lock_action_refused_by_a_firewall() -> None:
    """A firewall only blocks addresses: an account lock sent to it is refused."""
    runner = Recorder()
    backend = NftablesBackend(NftablesSettings(), runner)
    lock = Action("test", ActionKind.LOCK, "mallory", None, NOW)
    with pytest.raises(TargetRefused, match="only blocks addresses"):
        backend.act(lock)
    assert runner.commands == []


def test_remaining_seconds() -> None:
    """Permanent is None; a TTL rounds up to whole seconds, is cut to the backend's
    ceiling, and is 0 once the record has expired."""
    assert remaining_seconds(block("x"), NOW, 100) is None
    assert remaining_seconds(block("x", 1.2), NOW, 100) == 2
    assert remaining_seconds(block("x", 3600), NOW, 100) == 100
    past = block("x", 60, expires_at=NOW - timedelta(seconds=1))
    assert remaining_seconds(past, NOW, 100) == 0


@pytest.mark.parametrize("settings_class", [NftablesSettings, IptablesSettings])
def test_one_set_for_both_families_refused(
    settings_class: type[NftablesSettings] | type[IptablesSettings],
) -> None:
    """IPv4 and IPv6 bans cannot share a set name."""
    with pytest.raises(ValidationError, match="set4 and set6 must differ"):
        settings_class.model_validate({"set4": "bans", "set6": "bans"})
