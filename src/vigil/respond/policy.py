"""The response policy: which alerts get which action, for how long, and what is refused.

Built from `respond:` and `responders:` of vigil.yaml, or, without a `respond:` section,
the built-in default: block the source address of `ssh_bruteforce`,
`firewall_connection_flood` and `port_scan` alerts for one hour with the `nftables`
responder, in dry-run. Nothing here runs anything; the engine does, after this module
has said yes.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel

from vigil.alerts.model import Alert
from vigil.config.models import VigilConfig
from vigil.config.respond import AlertSelector, RespondSettings, ResponseRule
from vigil.errors import ConfigError, TargetRefused
from vigil.respond.base import ResponderFactory
from vigil.respond.model import ActionKind
from vigil.respond.registry import get_responder
from vigil.respond.targets import IPNetwork, canonical, network_target, user_target, widen

LEVEL_RANK = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

DEFAULT_RULES = ("ssh_bruteforce", "firewall_connection_flood", "port_scan")
DEFAULT_RESPONDER = "nftables"
DEFAULT_TTL = timedelta(hours=1)

# What a `call` target may be when it is neither an address nor a user name: an
# identifier, never text a program could read as an option or a shell as syntax.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/-]{0,127}")

Mode = Literal["dry-run", "enforce"]


@dataclass(frozen=True)
class Selector:
    rule: str = "*"
    tags: tuple[str, ...] = ()
    level: str | None = None
    entity: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, s: AlertSelector) -> Selector:
        return cls(rule=s.rule, tags=tuple(s.tags), level=s.level, entity=dict(s.entity))

    def matches(self, alert: Alert) -> bool:
        if not (fnmatchcase(alert.rule_name, self.rule) or fnmatchcase(alert.rule_id, self.rule)):
            return False
        if any(not any(fnmatchcase(t, want) for t in alert.tags) for want in self.tags):
            return False
        if self.level is not None and LEVEL_RANK.get(alert.level, 0) < LEVEL_RANK[self.level]:
            return False
        return all(value_matches(alert.entity.get(f), p) for f, p in self.entity.items())


def value_matches(value: Any, pattern: str) -> bool:
    """A CIDR matches addresses inside it, a glob (`*`, `?`, `[`) like the shell, anything
    else by equality."""
    if value is None:
        return False
    text = str(value)
    network = _cidr(pattern)
    if network is not None:
        try:
            return ipaddress.ip_address(text) in network
        except ValueError:
            return False
    if any(c in pattern for c in "*?["):
        return fnmatchcase(text, pattern)
    return text == pattern


def _cidr(pattern: str) -> IPNetwork | None:
    """The network a pattern names, or None for an ordinary value (a URL path has a slash
    too)."""
    if "/" not in pattern:
        return None
    try:
        return ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return None


@dataclass(frozen=True)
class PolicyRule:
    name: str
    selector: Selector
    responder: str
    target: str = "source.ip"
    ttl: timedelta = DEFAULT_TTL
    escalate: tuple[timedelta, ...] = ()
    approval: bool = False
    ipv6_prefix: int | None = None

    @classmethod
    def of(cls, rule: ResponseRule, index: int) -> PolicyRule:
        return cls(
            name=rule.name or f"respond.rules[{index}]",
            selector=Selector.of(rule.match),
            responder=rule.responder,
            target=rule.target,
            ttl=rule.ttl,
            escalate=tuple(rule.escalate),
            approval=rule.approval,
            ipv6_prefix=rule.ipv6_prefix,
        )

    def ttl_for(self, offence: int) -> timedelta:
        """The n-th offence (1-based) gets the n-th escalation step, the last one after."""
        if not self.escalate:
            return self.ttl
        return self.escalate[min(max(offence, 1), len(self.escalate)) - 1]


@dataclass(frozen=True)
class ResponderRef:
    """A configured responder: its name in vigil.yaml, its type, and its settings (None:
    the type's defaults)."""

    name: str
    type: str
    settings: BaseModel | None = None

    def factory(self) -> ResponderFactory:
        return get_responder(self.type)

    def kind(self) -> ActionKind:
        return self.factory().kind

    def build_settings(self) -> BaseModel:
        return self.settings if self.settings is not None else self.factory().Settings()


@dataclass(frozen=True)
class Policy:
    mode: Mode = "dry-run"
    rules: tuple[PolicyRule, ...] = ()
    responders: Mapping[str, ResponderRef] = field(default_factory=dict)
    allowlist: tuple[str, ...] = ()
    max_prefix: Mapping[int, int] = field(default_factory=lambda: {4: 24, 6: 48})
    rate_limit: int | None = 60
    lookback: timedelta = timedelta(weeks=1)
    builtin: bool = False

    @classmethod
    def default(cls) -> Policy:
        """What vigil does with no `respond:` section: plan (never run) one-hour blocks."""
        rules = tuple(
            PolicyRule(name=f"default:{r}", selector=Selector(rule=r), responder=DEFAULT_RESPONDER)
            for r in DEFAULT_RULES
        )
        ref = ResponderRef(DEFAULT_RESPONDER, DEFAULT_RESPONDER)
        return cls(rules=rules, responders={ref.name: ref}, builtin=True)

    @classmethod
    def from_config(cls, config: VigilConfig) -> Policy:
        refs = {
            name: ResponderRef(name, block.type, block.settings)
            for name, block in config.responders.items()
        }
        if config.respond is None:
            default = cls.default()
            return cls(
                rules=default.rules,
                responders={**default.responders, **refs},
                builtin=True,
            )
        settings: RespondSettings = config.respond
        rules = tuple(PolicyRule.of(r, i) for i, r in enumerate(settings.rules))
        for i, rule in enumerate(rules):
            if rule.responder not in refs:
                refs[rule.responder] = _implicit(rule.responder, i, refs)
        return cls(
            mode=settings.mode,
            rules=rules,
            responders=refs,
            allowlist=tuple(settings.allowlist),
            max_prefix=settings.max_prefix.as_dict(),
            rate_limit=settings.rate_limit,
            lookback=settings.lookback,
        )

    def responder(self, name: str) -> ResponderRef:
        try:
            return self.responders[name]
        except KeyError:
            known = ", ".join(sorted(self.responders)) or "none"
            raise ConfigError(f"no responder named {name!r} (configured: {known})") from None

    def block_responder(self, name: str | None) -> ResponderRef:
        """The responder a manual ban goes to: the named one, else the first that blocks."""
        if name is not None:
            ref = self.responder(name)
            if ref.kind() is not ActionKind.BLOCK:
                raise ConfigError(f"responder {name!r} ({ref.type}) does not block addresses")
            return ref
        for ref in self.responders.values():
            if ref.kind() is ActionKind.BLOCK:
                return ref
        raise ConfigError("no responder that blocks addresses is configured (responders:)")

    def matching(self, alert: Alert) -> list[PolicyRule]:
        """The rules that answer an alert: the first matching rule per responder."""
        out: dict[str, PolicyRule] = {}
        for rule in self.rules:
            if rule.responder not in out and rule.selector.matches(alert):
                out[rule.responder] = rule
        return list(out.values())

    def network(self, value: object, ipv6_prefix: int | None = None) -> IPNetwork:
        """A block's network from hostile text: validated, widened to the rule's IPv6
        prefix, and still no wider than max_prefix allows."""
        net = network_target(value, max_prefix=dict(self.max_prefix))
        if isinstance(net, ipaddress.IPv6Network):
            net = widen(net, ipv6_prefix)
            if net.prefixlen < self.max_prefix[6]:
                raise TargetRefused(
                    f"{net} is wider than the widest allowed block (/{self.max_prefix[6]} for IPv6)"
                )
        return net

    def target(
        self, value: object, kind: ActionKind, ipv6_prefix: int | None = None
    ) -> tuple[str, IPNetwork | None]:
        """The canonical target of an action of `kind` (and its network when it blocks),
        or TargetRefused saying why the value cannot be one."""
        if kind is ActionKind.BLOCK:
            net = self.network(value, ipv6_prefix)
            return canonical(net), net
        if kind is ActionKind.LOCK:
            return user_target(value), None
        if not isinstance(value, str) or not _PLAIN_VALUE.fullmatch(value):
            raise TargetRefused(f"not a plain identifier: {value!r}")
        called = _cidr(value if "/" in value else f"{value}/{'128' if ':' in value else '32'}")
        if called is None:
            return value, None
        # A call about an address passes the same checks as a block: an operator's
        # `command` or webhook may well block it, and the allowlist must still win.
        net = self.network(value, ipv6_prefix)
        return canonical(net), net


def _implicit(name: str, index: int, refs: Mapping[str, ResponderRef]) -> ResponderRef:
    """`responder: nftables` with no `responders: {nftables: ...}` block: the type itself,
    with its default settings."""
    try:
        get_responder(name)
    except ConfigError:
        known = ", ".join(sorted(refs)) or "none"
        raise ConfigError(
            f"respond.rules.{index}.responder: no responder named {name!r} in responders: "
            f"(configured: {known}) and no responder type of that name"
        ) from None
    return ResponderRef(name, name)


def operator_actor(env: Mapping[str, str] | None = None, uid: int | None = None) -> str:
    """`operator:<login>` of whoever runs the command (the sudo caller, not root); from
    the user database when the environment names nobody (cron, systemd units)."""
    env = os.environ if env is None else env
    login = env.get("SUDO_USER") or env.get("USER") or env.get("LOGNAME")
    if not login:
        try:
            login = pwd.getpwuid(os.getuid() if uid is None else uid).pw_name
        except KeyError:  # a uid without an entry (a container's)
            login = f"uid {os.getuid() if uid is None else uid}"
    return f"operator:{login}"
