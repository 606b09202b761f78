"""The response policy: selectors, escalation, the built-in default, and targets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.alerts.factories import alert
from vigil.config.models import VigilConfig
from vigil.errors import ConfigError, TargetRefused
from vigil.respond.model import ActionKind
from vigil.respond.policy import Policy, PolicyRule, Selector, operator_actor


def policy(respond: dict[str, Any] | None, **responders: Any) -> Policy:
    doc: dict[str, Any] = {"responders": responders}
    if respond is not None:
        doc["respond"] = respond
    return Policy.from_config(VigilConfig.model_validate(doc))


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        (Selector(), True),
        (Selector(rule="ssh_*"), True),
        (Selector(rule="id-ssh_bruteforce"), True),
        (Selector(rule="web_*"), False),
        (Selector(tags=("attack.t1110*",)), True),
        (Selector(tags=("attack.t1110", "attack.impact")), False),
        (Selector(level="high"), True),
        (Selector(level="critical"), False),
        (Selector(entity={"source.ip": "203.0.113.0/24"}), True),
        (Selector(entity={"source.ip": "198.51.100.0/24"}), False),
        (Selector(entity={"source.ip": "203.0.113.*"}), True),
        (Selector(entity={"user.name": "root"}), False),
    ],
)
def test_selectors(selector: Selector, selected: bool) -> None:
    """Rule glob (name or id), all tags, minimum level and entity value/CIDR/glob."""
    a = alert("ssh_bruteforce", **{"source.ip": "203.0.113.7"})
    tagged = replace(a, tags=("attack.t1110.001", "attack.credential-access"))
    assert selector.matches(tagged) is selected


def test_escalation_steps() -> None:
    """The n-th offence gets the n-th step, the last step after that; no steps: the ttl."""
    rule = PolicyRule("r", Selector(), "fw", escalate=(timedelta(minutes=10), timedelta(hours=1)))
    assert [rule.ttl_for(n) for n in (1, 2, 3)] == [
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=1),
    ]
    assert PolicyRule("r", Selector(), "fw").ttl_for(5) == timedelta(hours=1)


def test_builtin_default_without_respond_section() -> None:
    """No respond: → dry-run one-hour nftables blocks of the three default rules."""
    p = policy(None)
    assert p.builtin and p.mode == "dry-run"
    assert [r.selector.rule for r in p.rules] == [
        "ssh_bruteforce",
        "firewall_connection_flood",
        "port_scan",
    ]
    assert {(r.responder, r.target, r.ttl) for r in p.rules} == {
        ("nftables", "source.ip", timedelta(hours=1))
    }
    assert p.responder("nftables").kind() is ActionKind.BLOCK
    assert p.matching(alert("web_sqli")) == []


def test_first_matching_rule_per_responder() -> None:
    """Of several rules for one responder, the first that matches answers."""
    p = policy(
        {
            "rules": [
                {"match": {"rule": "ssh_*"}, "responder": "nftables", "ttl": "10m"},
                {"responder": "nftables", "ttl": "1d"},
            ]
        }
    )
    [rule] = p.matching(alert("ssh_bruteforce"))
    assert rule.ttl == timedelta(minutes=10)
    assert p.matching(alert("web_sqli"))[0].ttl == timedelta(days=1)


def test_named_responder_and_implicit_type() -> None:
    """A rule names a responders: key, or a responder type used with its defaults."""
    p = policy(
        {"rules": [{"responder": "edge"}, {"responder": "iptables"}]},
        edge={"type": "nftables", "table": "edge"},
    )
    assert p.responder("edge").type == "nftables"
    assert p.responder("iptables").type == "iptables"


def test_unknown_responder_is_a_config_error() -> None:
    """A rule naming neither a configured responder nor a type stops with the key path."""
    with pytest.raises(ConfigError, match=r"respond.rules.0.responder: no responder named 'fw'"):
        policy({"rules": [{"responder": "fw"}]})


@pytest.mark.parametrize(
    ("value", "prefix", "target"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("::ffff:203.0.113.7", None, "203.0.113.7"),
        ("2001:db8::7", None, "2001:db8::7"),
        ("2001:db8::7", 64, "2001:db8::/64"),
        ("203.0.113.0/24", 64, "203.0.113.0/24"),
    ],
)
def test_block_targets_are_canonical(value: str, prefix: int | None, target: str) -> None:
    """Addresses are canonical; IPv6 is widened to the rule's prefix."""
    assert policy(None).target(value, ActionKind.BLOCK, prefix)[0] == target


def test_widening_past_max_prefix_is_refused() -> None:
    """An IPv6 prefix ban wider than max_prefix.ipv6 is refused, not silently applied."""
    p = policy({"max_prefix": {"ipv6": 64}})
    with pytest.raises(TargetRefused, match="wider than the widest allowed block"):
        p.target("2001:db8::7", ActionKind.BLOCK, 48)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (ActionKind.LOCK, "root", "refusing to lock root"),
        (ActionKind.LOCK, "alice; id", "not a valid user name"),
        (ActionKind.CALL, "-x", "not a plain identifier"),
        (ActionKind.CALL, "a b", "not a plain identifier"),
    ],
)
def test_other_kinds_validate_their_targets(kind: ActionKind, value: str, message: str) -> None:
    """User names and call targets are checked as strictly as addresses."""
    with pytest.raises(TargetRefused, match=message):
        policy(None).target(value, kind)


def test_call_targets() -> None:
    """A call target is plain text, or an address written canonically."""
    p = policy(None)
    assert p.target("alice@example", ActionKind.CALL) == ("alice@example", None)
    assert p.target("alice", ActionKind.LOCK) == ("alice", None)


def test_operator_actor_names_the_sudo_caller() -> None:
    """The operator is the sudo caller when there is one, else the login, else the user
    database's name for the uid."""
    assert operator_actor({"SUDO_USER": "alice", "USER": "root"}) == "operator:alice"
    assert operator_actor({"USER": "bob"}) == "operator:bob"
    assert operator_actor({}, uid=0) == "operator:root"  # cron, systemd: the uid's login
    assert operator_actor({}, uid=2**31 - 7) == f"operator:uid {2**31 - 7}"


def test_a_call_about_an_address_is_checked_like_a_block() -> None:
    """An address handed to a call (command, webhook) is written canonically and passes
    max_prefix like a block; its network goes on to the allowlist check."""
    p = Policy.default()
    target, net = p.target("2001:db8:0::7", ActionKind.CALL)
    assert (target, str(net)) == ("2001:db8::7", "2001:db8::7/128")
    with pytest.raises(TargetRefused, match="wider than the widest allowed"):
        p.target("10.0.0.0/8", ActionKind.CALL)
