"""What the nftables and iptables/ipset responders share: the settings every firewall
backend takes, the validation of a block action, the timeout a ban gets in the kernel,
and reading back what the firewall holds.

A backend is `Backend(settings, runner)`: it builds argument lists and runs them through
a `respond.runner.Runner`, so the same class drives the local firewall (a `LocalRunner`,
optionally inside a network namespace) and a remote one (the `ssh` responder's runner).
"""

from __future__ import annotations

import ipaddress
import math
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vigil.clock import Clock, SystemClock
from vigil.errors import ResponderError, TargetRefused
from vigil.respond.model import Action, ActionKind
from vigil.respond.runner import Runner
from vigil.respond.targets import IPNetwork, canonical, network_target

# Names of tables, chains, sets and network namespaces vigil writes into commands: a
# letter first (never read as an option), nothing a shell or nft's parser treats
# specially, short enough for every backend (ipset allows 31 characters).
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,30}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]

# The widest block a firewall backend accepts, whatever the policy allows: a last guard
# against a misconfiguration that would drop a large part of the Internet.
BACKEND_MAX_PREFIX = {4: 8, 6: 16}


class FirewallSettings(BaseModel):
    """Settings every firewall backend takes (`type:` is the registry's business)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    netns: Name | None = Field(
        default=None, description="run the commands inside this network namespace"
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="how long one firewall command may take"
    )


def block_network(action: Action, responder: str) -> IPNetwork:
    """The network an action blocks, validated again here: the firewall is the last
    place a hostile value could slip through."""
    if action.kind is not ActionKind.BLOCK:
        raise TargetRefused(f"{responder} only blocks addresses; cannot {action.kind}")
    return network_target(action.target, max_prefix=BACKEND_MAX_PREFIX)


def remaining_seconds(action: Action, now: datetime, ceiling: int) -> int | None:
    """Whole seconds the kernel should keep the ban: None = permanent, 0 = already over.

    A ban lasts until the action's `expires_at`, or its whole TTL when it has no expiry
    yet, so a ban re-applied after a restart ends when its record says. Bans longer than
    `ceiling` (the backend's largest timeout) are cut to it: the kernel then drops them
    first, and vigil's reconciliation puts them back for the rest of the TTL.
    """
    if action.ttl is None:
        return None
    if action.expires_at is None:
        left = action.ttl.total_seconds()
    else:
        left = (action.expires_at - now).total_seconds()
    if left <= 0:
        return 0
    return min(math.ceil(left), ceiling)


def held_network(text: str) -> str:
    """A firewall's spelling of an element (`203.0.113.7`, `2001:db8::/64`) in the
    canonical form of Action.target, so records and firewall compare as strings."""
    return canonical(ipaddress.ip_network(text, strict=False))


class FirewallBackend(ABC):
    """Ban and unban network targets on one firewall; the Responder methods on top.

    Every ban first makes sure of the firewall's own objects (table, sets, drop rules):
    a ruleset flushed or a rule deleted behind vigil's back (a firewall reload) is
    repaired by the next ban, instead of bans landing in a set nothing matches. Bans
    are rare next to the cost of the few extra commands this takes.
    """

    id: ClassVar[str]
    kind: ClassVar[ActionKind] = ActionKind.BLOCK
    # The largest per-element timeout the kernel accepts, in seconds.
    max_timeout: ClassVar[int]

    def __init__(
        self, settings: FirewallSettings, runner: Runner, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.clock = clock or SystemClock()

    @abstractmethod
    def ensure(self) -> None:
        """Create the firewall objects vigil uses; running it again changes nothing."""

    @abstractmethod
    def ban(self, net: IPNetwork, seconds: int | None) -> None:
        """Hold `net` for `seconds` (None: until unbanned); a ban already held gets the
        new timeout."""

    @abstractmethod
    def unban(self, net: IPNetwork) -> None:
        """Stop holding `net`. It may fail when `net` is not held (a missing set):
        revert() then asks held() whether anything is left to undo."""

    @abstractmethod
    def held(self) -> set[str]:
        """Every network the firewall holds now, canonical."""

    def act(self, action: Action) -> None:
        net = block_network(action, self.id)
        seconds = remaining_seconds(action, self.clock.now(), self.max_timeout)
        if seconds == 0:
            # Its time is already over: holding it now would outlive the record.
            self.revert(action)
            return
        self.ensure()
        self.ban(net, seconds)

    def revert(self, action: Action) -> None:
        net = block_network(action, self.id)
        try:
            self.unban(net)
        except ResponderError:
            # A missing table or set, or (nftables) a prefix overlapping another ban,
            # fails the command; either way what matters is whether it is held now.
            if canonical(net) in self.held():
                raise

    def check(self) -> set[str]:
        return self.held()


def family_error(responder: str, net: IPNetwork, where: str) -> ResponderError:
    return ResponderError(f"{responder}: {where} holds no IPv{net.version} addresses ({net})")
