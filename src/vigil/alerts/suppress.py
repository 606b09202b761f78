"""Suppressions: "do not alert on rule R for entities matching M until T, because W".

A suppression matches an alert when its rule pattern matches the alert's rule name or id
(`*` and `?` wildcards allowed) and every field matcher matches the alert's entity:
a CIDR (`192.0.2.0/24`, `2001:db8::/32`) matches IP values inside it, a pattern with `*`/`?`
matches like a shell glob, anything else must be equal. A pattern shaped like a CIDR that is
not one (`192.0.2.0/33`, `192.0.2.300/24`) is refused (`cidr_problem`): as an exact value it
would never match, and the suppression would silently do nothing. A suppression past its
expiry no longer applies. Suppressed alerts are counted per suppression, never silently lost.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from vigil.alerts.model import Alert

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# An address (dotted quad or anything with a colon) and a prefix length: meant as a CIDR.
_CIDR_SHAPE = re.compile(r"(?:\d+(?:\.\d+){3}|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)/\d+")


@dataclass(frozen=True)
class Suppression:
    rule: str
    match: dict[str, str]
    reason: str
    expires: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires

    def matches(self, alert: Alert) -> bool:
        if not (fnmatchcase(alert.rule_name, self.rule) or fnmatchcase(alert.rule_id, self.rule)):
            return False
        return all(
            _value_matches(alert.entity.get(f), pattern) for f, pattern in self.match.items()
        )

    def describe(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.match.items()) or "any entity"
        return f"{self.rule} [{fields}]: {self.reason}"


def _value_matches(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    text = str(value)
    network = _network(pattern)
    if network is not None:
        try:
            return ipaddress.ip_address(text) in network
        except ValueError:
            return False
    if any(c in pattern for c in "*?["):
        return fnmatchcase(text, pattern)
    return text == pattern


def cidr_problem(pattern: str) -> str | None:
    """Why `pattern`, written as a CIDR, is not one (None: it is one, or is no CIDR)."""
    if not _CIDR_SHAPE.fullmatch(pattern):
        return None
    network = ipaddress.IPv6Network if ":" in pattern else ipaddress.IPv4Network
    try:
        network(pattern, strict=False)
    except ValueError as e:
        return f"{pattern} is not a valid CIDR ({e})"
    return None


def _network(pattern: str) -> IPNetwork | None:
    if "/" not in pattern:
        return None
    try:
        return ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return None


def first_match(suppressions: list[Suppression], alert: Alert, now: datetime) -> Suppression | None:
    return next((s for s in suppressions if s.active(now) and s.matches(alert)), None)
