"""The `iptables` responder, for hosts without nftables: bans as ipset entries with
timeouts, dropped by one iptables/ip6tables rule per chain.

    ipset create vigil4 hash:net family inet  timeout 0     # per-entry timeouts
    ipset create vigil6 hash:net family inet6 timeout 0
    iptables  -I INPUT 1 -m set --match-set vigil4 src -m comment --comment vigil -j DROP
    ip6tables -I INPUT 1 -m set --match-set vigil6 src -m comment --comment vigil -j DROP

A ban is `ipset add -exist SET NET timeout N` (`-exist` refreshes the timeout of an entry
already there; timeout 0 = until unbanned), so the kernel lifts it even when vigil is
down. hash:net holds addresses and prefixes side by side, overlapping or not. Each rule
is inserted once: `-C` checks for it first.

`IptablesBackend(settings, runner)` runs the commands through any Runner (the `ssh`
responder passes its own); `IptablesResponder(settings, context)` is the local responder
of `type: iptables`, running them here or in `settings.netns`.
"""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import BaseModel, Field, model_validator

from vigil.clock import Clock
from vigil.errors import ConfigError, ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.firewall import (
    FirewallBackend,
    FirewallSettings,
    Name,
    family_error,
    held_network,
)
from vigil.respond.runner import Completed, LocalRunner, Runner
from vigil.respond.targets import IPNetwork, canonical

_TOOL = {4: "iptables", 6: "ip6tables"}
_FAMILY = {4: "inet", 6: "inet6"}
# Seconds to wait for the xtables lock another program holds, before giving up.
_LOCK_WAIT = "5"


class IptablesSettings(FirewallSettings):
    chains: list[Name] = Field(
        default_factory=lambda: ["INPUT"],
        min_length=1,
        description="filter-table chains that drop banned sources (INPUT, FORWARD, DOCKER-USER)",
    )
    set4: Name = Field(default="vigil4", description="ipset of banned IPv4 addresses/prefixes")
    set6: Name = Field(default="vigil6", description="ipset of banned IPv6 addresses/prefixes")
    ipv6: bool = Field(default=True, description="also ban IPv6 (needs ip6tables)")
    maxelem: int = Field(default=65536, ge=1, le=1 << 24, description="most entries per set")

    @model_validator(mode="after")
    def _distinct_sets(self) -> Self:
        if self.set4 == self.set6:
            raise ValueError(f"set4 and set6 must differ (both {self.set4!r})")
        return self


class IptablesBackend(FirewallBackend):
    id: ClassVar[str] = "iptables"
    # ipset keeps timeouts in milliseconds in a signed 32-bit value: ~24.8 days.
    max_timeout: ClassVar[int] = 2_147_483

    def __init__(
        self, settings: IptablesSettings, runner: Runner, *, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, runner, clock=clock)
        self.ipt = settings

    @property
    def versions(self) -> tuple[int, ...]:
        return (4, 6) if self.ipt.ipv6 else (4,)

    def set_for(self, net: IPNetwork) -> str:
        if net.version not in self.versions:
            raise family_error(self.id, net, "iptables with ipv6: false")
        return self.ipt.set4 if net.version == 4 else self.ipt.set6

    # -- set-up --------------------------------------------------------------------

    def ensure(self) -> None:
        for version in self.versions:
            name = self.ipt.set4 if version == 4 else self.ipt.set6
            self._run(
                [
                    *("ipset", "create", "-exist", name, "hash:net", "family", _FAMILY[version]),
                    *("timeout", "0", "maxelem", str(self.ipt.maxelem)),
                ],
                f"create ipset {name}",
            )
            for chain in self.ipt.chains:
                rule = self._rule(chain, name)
                tool = [_TOOL[version], "-w", _LOCK_WAIT]
                present = self.runner.run([*tool, "-C", *rule], check=False)
                # -C answers 1 when the rule is absent (or the chain is: then the insert
                # below reports it); anything else is a failure of its own.
                if present.returncode == 1:
                    self._run([*tool, "-I", chain, "1", *rule[1:]], f"insert a rule in {chain}")
                elif present.returncode != 0:
                    raise _failed(f"check the rule in {chain}", present)

    @staticmethod
    def _rule(chain: str, set_name: str) -> list[str]:
        match = ["-m", "set", "--match-set", set_name, "src"]
        return [chain, *match, "-m", "comment", "--comment", "vigil", "-j", "DROP"]

    # -- bans ----------------------------------------------------------------------

    def ban(self, net: IPNetwork, seconds: int | None) -> None:
        timeout = "0" if seconds is None else str(seconds)
        self._run(
            ["ipset", "add", "-exist", self.set_for(net), str(net), "timeout", timeout],
            f"ban {canonical(net)}",
        )

    def unban(self, net: IPNetwork) -> None:
        self._run(
            ["ipset", "del", "-exist", self.set_for(net), str(net)],
            f"unban {canonical(net)}",
        )

    def held(self) -> set[str]:
        names = {self.ipt.set4, self.ipt.set6} if self.ipt.ipv6 else {self.ipt.set4}
        listed = self._run(["ipset", "list", "-n"], "list ipsets").stdout.split()
        out: set[str] = set()
        for name in sorted(names.intersection(listed)):
            saved = self._run(["ipset", "save", name], f"list ipset {name}").stdout
            for line in saved.splitlines():
                # add vigil4 203.0.113.0/24 timeout 3597
                words = line.split()
                if len(words) >= 3 and words[0] == "add" and words[1] == name:
                    out.add(held_network(words[2]))
        return out

    def _run(self, argv: list[str], what: str) -> Completed:
        done = self.runner.run(argv, check=False)
        if done.returncode != 0:
            raise _failed(what, done)
        return done


class IptablesResponder(IptablesBackend):
    """`type: iptables`: the backend on this host (or in `netns`)."""

    Settings: ClassVar[type[BaseModel]] = IptablesSettings

    def __init__(self, settings: BaseModel, context: ResponderContext) -> None:
        if not isinstance(settings, IptablesSettings):
            raise ConfigError(f"iptables needs IptablesSettings, not {type(settings).__name__}")
        runner = LocalRunner(netns=settings.netns, timeout=settings.timeout_seconds)
        super().__init__(settings, runner, clock=context.clock)


def _failed(what: str, done: Completed) -> ResponderError:
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    message = "; ".join(dict.fromkeys(lines)) or f"exit {done.returncode}"
    return ResponderError(f"iptables: cannot {what}: {message}")
