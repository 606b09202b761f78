"""The `nftables` responder: bans as elements with timeouts in a table vigil owns.

    table inet vigil {
        set banned4      { type ipv4_addr; flags timeout; }            # addresses
        set banned4_nets { type ipv4_addr; flags interval,timeout; }   # prefixes
        set banned6 ... set banned6_nets ...                           # the same for IPv6
        counter dropped4 ... counter dropped6
        chain input { type filter hook input priority -10; policy accept;
                      ip saddr @banned4 counter name dropped4 drop; ... }
    }

Each ban carries its remaining TTL as the element's timeout, so the kernel lifts it even
when vigil is down. Addresses and prefixes live in separate sets because an interval set
refuses overlapping elements: an address inside a banned /24 is still its own ban (with
its own expiry), not an error. Two prefixes that overlap each other remain refused by
the kernel, and the responder says so. Chains run at priority -10, before the usual
filter chains, and only drop: accepting is left to the operator's own ruleset.

Every command is nftables JSON (`nft -j -f -`) built from validated values; prefixes are
`prefix` objects because nft reads a bare "203.0.113.0/24" string as a host name.

`NftablesBackend(settings, runner)` runs the commands through any Runner (the `ssh`
responder passes its own); `NftablesResponder(settings, context)` is the local responder
of `type: nftables`, running them here or in `settings.netns`.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, ClassVar, Literal, Self

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
from vigil.respond.runner import LocalRunner, Runner
from vigil.respond.targets import IPNetwork, canonical

Hook = Literal["input", "forward"]
# nftables' own names of the address types and header fields, per IP version.
_TYPE = {4: "ipv4_addr", 6: "ipv6_addr"}
_PROTOCOL = {4: "ip", 6: "ip6"}
_VERSIONS = {"inet": (4, 6), "ip": (4,), "ip6": (6,)}


class NftablesSettings(FirewallSettings):
    table: Name = Field(default="vigil", description="the table vigil owns (created if absent)")
    family: Literal["inet", "ip", "ip6"] = Field(
        default="inet", description="table family: inet holds IPv4 and IPv6 bans"
    )
    hooks: list[Hook] = Field(
        default_factory=lambda: list[Hook](["input"]),
        min_length=1,
        description="where banned sources are dropped: input (this host), forward (routed)",
    )
    priority: int = Field(default=-10, ge=-400, le=400, description="hook priority of the chains")
    set4: Name = Field(default="banned4", description="set of banned IPv4 addresses")
    set6: Name = Field(default="banned6", description="set of banned IPv6 addresses")

    @model_validator(mode="after")
    def _distinct_sets(self) -> Self:
        if self.set4 == self.set6:
            raise ValueError(f"set4 and set6 must differ (both {self.set4!r})")
        return self


class NftablesBackend(FirewallBackend):
    id: ClassVar[str] = "nftables"
    # Ten years: the kernel refuses timeouts that overflow its jiffies (~1000 years here),
    # and no ban should need more.
    max_timeout: ClassVar[int] = 10 * 365 * 86400

    def __init__(
        self, settings: NftablesSettings, runner: Runner, *, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, runner, clock=clock)
        self.nft = settings

    # -- names ---------------------------------------------------------------------

    @property
    def versions(self) -> tuple[int, ...]:
        return _VERSIONS[self.nft.family]

    def set_for(self, net: IPNetwork) -> str:
        """The set that holds `net`: addresses and prefixes are kept apart (see above)."""
        if net.version not in self.versions:
            raise family_error(self.id, net, f"table {self.nft.family} {self.nft.table}")
        base = self.nft.set4 if net.version == 4 else self.nft.set6
        return base if net.prefixlen == net.max_prefixlen else f"{base}_nets"

    def _sets(self) -> dict[str, tuple[int, bool]]:
        """Every set vigil owns: name → (IP version, holds prefixes)."""
        out: dict[str, tuple[int, bool]] = {}
        for version in self.versions:
            base = self.nft.set4 if version == 4 else self.nft.set6
            out[base] = (version, False)
            out[f"{base}_nets"] = (version, True)
        return out

    def _ref(self) -> dict[str, str]:
        return {"family": self.nft.family, "table": self.nft.table}

    # -- set-up --------------------------------------------------------------------

    def ensure(self) -> None:
        ref = self._ref()
        commands: list[dict[str, Any]] = [
            {"add": {"table": {"family": self.nft.family, "name": self.nft.table}}}
        ]
        for name, (version, prefixes) in self._sets().items():
            flags = ["interval", "timeout"] if prefixes else ["timeout"]
            commands.append(
                {"add": {"set": {**ref, "name": name, "type": _TYPE[version], "flags": flags}}}
            )
        for version in self.versions:
            commands.append({"add": {"counter": {**ref, "name": f"dropped{version}"}}})
        wanted: dict[str, dict[str, Any]] = {hook: self._chain(hook) for hook in self.nft.hooks}
        # A chain left from other settings (another hook list or priority) is replaced:
        # nftables cannot change a base chain's hook or priority in place.
        for chain in self._chains():
            name = str(chain.get("name"))
            if name in ("input", "forward") and _spec(chain) != _spec(wanted.get(name, {})):
                commands.append({"flush": {"chain": {**ref, "name": name}}})
                commands.append({"delete": {"chain": {**ref, "name": name}}})
        for hook, chain in wanted.items():
            commands.append({"add": {"chain": chain}})
            # Rebuilt on every ensure so a rule edited or deleted by hand comes back;
            # the named counters keep their totals across the rebuild.
            commands.append({"flush": {"chain": {**ref, "name": hook}}})
            for version in self.versions:
                for name, (set_version, _) in self._sets().items():
                    if set_version == version:
                        commands.append({"add": {"rule": self._drop_rule(hook, version, name)}})
        self._apply(commands, f"set up table {self.nft.family} {self.nft.table}")

    def _chain(self, hook: str) -> dict[str, Any]:
        return {
            **self._ref(),
            "name": hook,
            "type": "filter",
            "hook": hook,
            "prio": self.nft.priority,
            "policy": "accept",
        }

    def _drop_rule(self, chain: str, version: int, set_name: str) -> dict[str, Any]:
        source = {"payload": {"protocol": _PROTOCOL[version], "field": "saddr"}}
        return {
            **self._ref(),
            "chain": chain,
            "expr": [
                {"match": {"op": "==", "left": source, "right": f"@{set_name}"}},
                {"counter": f"dropped{version}"},
                {"drop": None},
            ],
        }

    # -- bans ----------------------------------------------------------------------

    def ban(self, net: IPNetwork, seconds: int | None) -> None:
        target = {**self._ref(), "name": self.set_for(net)}
        value = _value(net)
        elem: Any = value if seconds is None else {"elem": {"val": value, "timeout": seconds}}
        # add (a no-op when held), delete, add again: one atomic transaction that
        # refreshes the timeout of a ban already held instead of failing on it.
        commands = [
            {"add": {"element": {**target, "elem": [elem]}}},
            {"delete": {"element": {**target, "elem": [value]}}},
            {"add": {"element": {**target, "elem": [elem]}}},
        ]
        self._apply(commands, f"ban {canonical(net)}")

    def unban(self, net: IPNetwork) -> None:
        target = {**self._ref(), "name": self.set_for(net)}
        value = _value(net)
        # add then delete: absent afterwards whether it was held or not (deleting a
        # missing element alone fails the transaction).
        commands = [
            {"add": {"element": {**target, "elem": [value]}}},
            {"delete": {"element": {**target, "elem": [value]}}},
        ]
        # Refused when the prefix overlaps another ban: then it was not held itself
        # (the caller checks, see FirewallBackend.revert).
        self._apply(commands, f"unban {canonical(net)}")

    def held(self) -> set[str]:
        out: set[str] = set()
        sets = self._sets()
        for listed in self._listed("set"):
            if listed.get("name") in sets:
                for element in listed.get("elem", []):
                    out.update(element_networks(element))
        return out

    # -- running nft ---------------------------------------------------------------

    def _listed(self, kind: str) -> list[dict[str, Any]]:
        """The objects of one kind in vigil's table; none when the table is absent."""
        argv = ["nft", "-j", "list", "table", self.nft.family, self.nft.table]
        done = self.runner.run(argv, check=False)
        if done.returncode != 0:
            if not self._table_exists():
                return []
            raise ResponderError(f"nftables: cannot list {self.nft.table}: {_message(done.stderr)}")
        items = _decode(done.stdout)
        return [item[kind] for item in items if isinstance(item.get(kind), dict)]

    def _chains(self) -> list[dict[str, Any]]:
        """The chains of vigil's table, listed without the table's sets: those can hold
        many thousand elements, and this runs before every ban."""
        done = self.runner.run(["nft", "-j", "list", "chains", self.nft.family])
        return [
            chain
            for item in _decode(done.stdout)
            if isinstance(chain := item.get("chain"), dict) and chain.get("table") == self.nft.table
        ]

    def _table_exists(self) -> bool:
        done = self.runner.run(["nft", "-j", "list", "tables"])
        return any(
            table.get("family") == self.nft.family and table.get("name") == self.nft.table
            for item in _decode(done.stdout)
            if isinstance(table := item.get("table"), dict)
        )

    def _apply(self, commands: list[dict[str, Any]], what: str) -> None:
        payload = json.dumps({"nftables": commands})
        done = self.runner.run(["nft", "-j", "-f", "-"], stdin=payload, check=False)
        if done.returncode != 0:
            raise ResponderError(f"nftables: cannot {what}: {_message(done.stderr)}")


class NftablesResponder(NftablesBackend):
    """`type: nftables`: the backend on this host (or in `netns`)."""

    Settings: ClassVar[type[BaseModel]] = NftablesSettings

    def __init__(self, settings: BaseModel, context: ResponderContext) -> None:
        if not isinstance(settings, NftablesSettings):
            raise ConfigError(f"nftables needs NftablesSettings, not {type(settings).__name__}")
        runner = LocalRunner(netns=settings.netns, timeout=settings.timeout_seconds)
        super().__init__(settings, runner, clock=context.clock)


def _value(net: IPNetwork) -> str | dict[str, Any]:
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def element_networks(element: Any) -> list[str]:
    """The networks one listed set element stands for, canonical. nft lists a plain
    element as its value and one with a timeout as {"elem": {"val": ...}}; values are
    addresses, {"prefix": ...} or, for elements added by others, {"range": [lo, hi]}."""
    value = element["elem"]["val"] if isinstance(element, dict) and "elem" in element else element
    if isinstance(value, str):
        return [held_network(value)]
    if isinstance(value, dict) and isinstance(prefix := value.get("prefix"), dict):
        return [held_network(f"{prefix['addr']}/{prefix['len']}")]
    if isinstance(value, dict) and isinstance(bounds := value.get("range"), list):
        low, high = (ipaddress.ip_address(bound) for bound in bounds)
        return [canonical(net) for net in ipaddress.summarize_address_range(low, high)]
    raise ResponderError(f"nftables: unexpected set element {json.dumps(element)[:200]}")


def _spec(chain: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(chain.get(key) for key in ("type", "hook", "prio", "policy"))


def _decode(stdout: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(stdout)["nftables"]
    except (ValueError, KeyError, TypeError) as e:
        raise ResponderError(f"nftables: unreadable JSON from nft ({e})") from None
    return [item for item in items if isinstance(item, dict)]


def _message(stderr: str) -> str:
    """nft's error lines without the JSON input's meaningless location prefix."""
    lines = [line.removeprefix("internal:0:0-0: ").strip() for line in stderr.splitlines()]
    errors = [line for line in lines if line.startswith("Error")] or [ln for ln in lines if ln]
    return "; ".join(dict.fromkeys(errors)) or "no message"
