"""Base rules the correlation tests correlate (a failed and an accepted SSH login), and
correlations built directly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from vigil.detect.correlation import Bound, CorrelationKind, CorrelationSpec, RuleRef

FAILED = """
title: Failed SSH login
name: ssh_failed
id: 5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: failure}
  condition: sel
"""
ACCEPTED = """
title: Accepted SSH login
name: ssh_accepted
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: success}
  condition: sel
"""
BOTH = f"{FAILED}---\n{ACCEPTED}"


def by_source_ip(
    kind: CorrelationKind, bounds: tuple[Bound, ...], rules: Sequence[str], timespan: timedelta
) -> CorrelationSpec:
    """A correlation `c` of the named rules, grouped by source.ip (distinct user.name for
    value_count), built directly for tests that drive the engine without Sigma files."""
    return CorrelationSpec(
        rule_id="c",
        name="c",
        title="c",
        level="high",
        tags=(),
        kind=kind,
        rules=tuple(RuleRef(r, (r,), ("source.ip",), "user.name") for r in rules),
        group_by=("source.ip",),
        timespan=timespan,
        bounds=bounds,
    )
