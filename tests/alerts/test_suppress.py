"""Suppressions: rule patterns, field matchers (CIDR, glob, exact), expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.suppress import Suppression, cidr_problem, first_match


@pytest.mark.parametrize(
    ("rule", "match", "entity", "expected"),
    [
        ("ssh_bruteforce", {"source.ip": "203.0.113.0/24"}, {"source.ip": "203.0.113.7"}, True),
        ("ssh_*", {"source.ip": "203.0.113.0/24"}, {"source.ip": "198.51.100.7"}, False),
        ("ssh_*", {"source.ip": "2001:db8::/32"}, {"source.ip": "2001:db8::1"}, True),
        ("ssh_*", {"source.ip": "2001:db8::/32"}, {"source.ip": "not-an-ip"}, False),
        ("*", {"user.name": "svc-*"}, {"user.name": "svc-backup"}, True),
        ("*", {"user.name": "svc-backup"}, {"user.name": "svc-backup2"}, False),
        ("*", {"user.name": "x"}, {"source.ip": "203.0.113.7"}, False),
        ("web_*", {}, {"source.ip": "203.0.113.7"}, False),
        ("id-ssh_bruteforce", {}, {"source.ip": "203.0.113.7"}, True),
    ],
)
def test_matching(rule: str, match: dict[str, str], entity: dict[str, str], expected: bool) -> None:
    """A suppression matches by rule name or id pattern and by every field matcher."""
    s = Suppression(rule=rule, match=match, reason="test")
    assert s.matches(alert(**entity)) is expected


def test_expired_suppressions_do_not_apply() -> None:
    """Past its expiry a suppression is ignored."""
    s = Suppression(rule="*", match={}, reason="maintenance", expires=T0)
    assert first_match([s], alert(), T0 - timedelta(seconds=1)) is s
    assert first_match([s], alert(), T0) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("192.0.2.0/33", "'33' is not a valid netmask"),
        ("192.0.2.300/24", "Octet 300"),
        ("2001:db8::/129", "'129' is not a valid netmask"),
        ("2001:db8:1:2:3:4:5:6:7/64", "Exactly 8 parts"),
    ],
)
def test_a_pattern_shaped_like_a_cidr_must_be_one(pattern: str, problem: str) -> None:
    """A CIDR that is not one is refused: as an exact value it would never match."""
    found = cidr_problem(pattern)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    "pattern", ["192.0.2.0/24", "2001:db8::/32", "/wp-login.php", "a/b", "203.0.113.7", "10.*"]
)
def test_cidrs_and_other_patterns_pass(pattern: str) -> None:
    """Valid CIDRs, paths, plain values and globs are no CIDR problem."""
    assert cidr_problem(pattern) is None
