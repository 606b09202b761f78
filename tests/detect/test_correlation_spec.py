"""Correlation rules from Sigma YAML into specs, and the rules vigil refuses, with reasons."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaCorrelationConditionError

from tests.detect.correlation_rules import BOTH
from vigil.detect.correlation import (
    Bound,
    CorrelationKind,
    CorrelationSpec,
    UnsupportedCorrelation,
    load_collection,
    relax_range_conditions,
    spec_from_sigma,
    specs_from_collection,
)
from vigil.detect.correlation.spec import RANGE_KEY

BASE = BOTH


def one(correlation: str, header: str = "title: Correlated\nname: corr") -> CorrelationSpec:
    result = build(correlation, header)
    assert isinstance(result, CorrelationSpec), str(result)
    return result


def build(correlation: str, header: str = "title: Correlated\nname: corr") -> object:
    text = f"{BASE}\n---\n{header}\ncorrelation:\n{correlation}"
    specs, refused = specs_from_collection(load_collection(text))
    return (specs + refused)[0]  # type: ignore[operator]


def refusal(correlation: str) -> str:
    result = build(correlation)
    assert isinstance(result, UnsupportedCorrelation), result
    return str(result)


def test_event_count_rule_becomes_a_spec() -> None:
    """Every field of the correlation rule lands in the spec."""
    spec = one(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip, destination.ip]
  timespan: 90s
  condition: {gte: 5}""",
        header="title: Brute force\nname: brute\nid: 0e6c7f7a-1111-4c1e-9d5a-1a2b3c4d5e6f\n"
        "level: critical\ntags: [attack.t1110, attack.credential-access]",
    )
    assert spec.kind is CorrelationKind.EVENT_COUNT
    assert (spec.rule_id, spec.name, spec.title, spec.level) == (
        "0e6c7f7a-1111-4c1e-9d5a-1a2b3c4d5e6f",
        "brute",
        "Brute force",
        "critical",
    )
    assert spec.tags == ("attack.t1110", "attack.credential-access")
    assert spec.group_by == ("source.ip", "destination.ip")
    assert spec.timespan == timedelta(seconds=90)
    assert spec.bounds == (Bound("gte", 5),)
    assert not spec.generate
    assert not spec.deferred
    (ref,) = spec.rules
    assert ref.keys == ("ssh_failed", "5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f")
    assert ref.group_fields == ("source.ip", "destination.ip")


def test_a_rule_referenced_by_id_is_found_under_its_name_too() -> None:
    """The lookup keys are the reference as written, the rule's name and its id."""
    spec = one(
        """  type: event_count
  rules: [5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f]
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 1}"""
    )
    assert spec.rules[0].keys == ("5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f", "ssh_failed")


def test_missing_level_and_id_have_defaults() -> None:
    """A rule without level is medium; without id its name stands in."""
    spec = one(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 1}"""
    )
    assert (spec.level, spec.rule_id, spec.name) == ("medium", "corr", "corr")


def test_range_condition_keeps_every_bound() -> None:
    """gte 5 and lt 100 in one mapping is a range: both bounds, decided at episode end."""
    spec = one(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 5, lt: 100}"""
    )
    assert spec.bounds == (Bound("gte", 5), Bound("lt", 100))
    assert spec.deferred
    assert spec.holds(np.array([4, 5, 99, 100])).tolist() == [False, True, True, False]
    assert spec.min_required == 5


def test_pysigma_alone_refuses_ranges() -> None:
    """The reason relax_range_conditions exists: pySigma 2.0.1 wants one operator."""
    text = f"{BASE}\n---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: [ssh_failed]\n"
    text += "  group-by: [source.ip]\n  timespan: 1m\n  condition: {gte: 5, lt: 100}\n"
    with pytest.raises(SigmaCorrelationConditionError, match="exactly one condition item"):
        SigmaCollection.from_yaml(text)


def test_relax_leaves_single_conditions_and_other_documents_alone() -> None:
    """Only correlation documents with several operators are rewritten."""
    docs = [
        {"title": "a", "detection": {"condition": "x"}},
        {"correlation": {"condition": {"gte": 5}}},
        {"correlation": {"condition": {"field": "user.name", "gt": 1, "lte": 9}}},
        "not a mapping",
    ]
    out = relax_range_conditions(docs)
    assert out[:2] == docs[:2]
    assert out[3] == "not a mapping"
    assert out[2]["correlation"]["condition"] == {"field": "user.name", "gt": 1}
    assert out[2]["correlation"][RANGE_KEY] == {"field": "user.name", "gt": 1, "lte": 9}
    assert docs[2]["correlation"]["condition"] == {"field": "user.name", "gt": 1, "lte": 9}


def test_value_count_keeps_its_field() -> None:
    """value_count counts the condition's field, in every referenced rule."""
    spec = one(
        """  type: value_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1h
  condition: {field: user.name, gt: 10}"""
    )
    assert spec.rules[0].value_field == "user.name"
    assert spec.min_required == 11


def test_temporal_defaults_to_all_rules() -> None:
    """A temporal rule without condition needs every referenced rule (pySigma's default)."""
    spec = one(
        """  type: temporal
  rules: [ssh_failed, ssh_accepted]
  group-by: [source.ip]
  timespan: 5m"""
    )
    assert spec.bounds == (Bound("gte", 2),)


def test_aliases_resolve_per_referenced_rule() -> None:
    """An alias in group-by reads a different column in each referenced rule."""
    spec = one(
        """  type: temporal_ordered
  rules: [ssh_failed, ssh_accepted]
  group-by: [peer, user.name]
  timespan: 5m
  aliases:
    peer:
      ssh_failed: source.ip
      ssh_accepted: destination.ip"""
    )
    assert [r.group_fields for r in spec.rules] == [
        ("source.ip", "user.name"),
        ("destination.ip", "user.name"),
    ]


def test_fractional_thresholds_compare_as_numbers() -> None:
    """gt 4.5 needs 5 events."""
    spec = one(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 4.5}"""
    )
    assert spec.min_required == 5
    assert spec.holds(np.array([4, 5])).tolist() == [False, True]


@pytest.mark.parametrize("kind", ["value_sum", "value_avg", "value_percentile", "value_median"])
def test_metric_correlations_are_refused(kind: str) -> None:
    """value_sum/avg/percentile/median are not run, and the reason names the type."""
    reason = refusal(
        f"""  type: {kind}
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {{field: network.bytes, gt: 100}}"""
    )
    assert f"correlation type {kind} is not supported" in reason
    assert reason.startswith("Correlated: ")


def test_extended_conditions_are_refused() -> None:
    """Boolean-expression conditions of temporal rules are refused."""
    reason = refusal(
        """  type: temporal
  group-by: [source.ip]
  timespan: 1m
  condition: ssh_failed and not ssh_accepted"""
    )
    assert "extended (boolean expression) correlation conditions are not supported" in reason


def test_neq_is_refused() -> None:
    """neq has no sensible meaning on a sliding count, so it is refused."""
    assert "'neq' is not supported" in refusal(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {neq: 3}"""
    )


@pytest.mark.parametrize("condition", ["{gt: 5, lt: 4}", "{lt: 1}", "{eq: 2.5}"])
def test_conditions_that_never_hold_are_refused(condition: str) -> None:
    """A condition no window can satisfy is a mistake in the rule, said at load time."""
    assert "can never be true" in refusal(
        f"""  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {condition}"""
    )


def test_a_range_with_an_unknown_operator_is_refused() -> None:
    """A range mapping is checked operator by operator."""
    assert "'between' is not supported" in refusal(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 1, lt: 9, between: 3}"""
    )


def test_a_range_with_a_non_number_is_refused() -> None:
    """Threshold values must be numbers."""
    assert "is not a number" in refusal(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 1, lt: many}"""
    )


def test_a_correlation_of_a_correlation_is_refused() -> None:
    """Chains are refused with a reason, and the inner rule still loads."""
    text = f"""{BASE}
---
title: Inner
name: inner
correlation:
  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {{gte: 3}}
---
title: Outer
name: outer
correlation:
  type: temporal_ordered
  rules: [inner, ssh_accepted]
  group-by: [source.ip]
  timespan: 1h
"""
    specs, refused = specs_from_collection(load_collection(text))
    assert [s.name for s in specs] == ["inner"]
    assert [str(r) for r in refused] == [
        "Outer: referenced rule 'inner' is a correlation; chains are not supported"
    ]


def test_an_alias_without_a_field_for_a_rule_is_refused() -> None:
    """Every referenced rule needs a field for every alias used in group-by."""
    assert "alias 'peer' names no field for rule 'ssh_accepted'" in refusal(
        """  type: temporal
  rules: [ssh_failed, ssh_accepted]
  group-by: [peer]
  timespan: 5m
  aliases:
    peer:
      ssh_failed: source.ip"""
    )


def test_a_rule_listed_twice_in_a_temporal_rule_is_refused() -> None:
    """temporal counts distinct rules, so a repeated reference could never be satisfied."""
    assert "a rule is listed twice" in refusal(
        """  type: temporal
  rules: [ssh_failed, ssh_failed]
  group-by: [source.ip]
  timespan: 5m"""
    )


def test_a_rule_listed_twice_in_a_temporal_ordered_rule_is_allowed() -> None:
    """A then A is a meaningful sequence: two events of the same rule in order."""
    spec = one(
        """  type: temporal_ordered
  rules: [ssh_failed, ssh_failed, ssh_accepted]
  group-by: [source.ip]
  timespan: 5m"""
    )
    assert [r.reference for r in spec.rules] == ["ssh_failed", "ssh_failed", "ssh_accepted"]


def test_a_field_listed_twice_in_group_by_is_refused() -> None:
    """group-by names each field once."""
    assert "listed twice in 'group-by'" in refusal(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip, source.ip]
  timespan: 5m
  condition: {gte: 2}"""
    )


def test_a_rule_with_collected_errors_is_refused() -> None:
    """A rule pySigma loaded with errors (collect_errors) is refused with the first error."""
    text = f"""{BASE}
---
title: Broken
correlation:
  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  condition: {{gte: 2}}
"""
    collection = SigmaCollection.from_yaml(text, collect_errors=True)
    result = spec_from_sigma(collection.rules[2])  # type: ignore[arg-type]
    assert isinstance(result, UnsupportedCorrelation)
    assert "rule has errors: " in result.reason
    assert "without timespan" in result.reason


@pytest.mark.parametrize("timespan", ["99999999999999d", "3000000d", "367d", "2y"])
def test_a_timespan_past_366_days_is_a_broken_rule(timespan: str) -> None:
    """A window longer than any vigil duration (366 days) is a load error, not an overflow."""
    result = build(
        f"""  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: {timespan}
  condition: {{gte: 2}}"""
    )
    assert isinstance(result, UnsupportedCorrelation)
    assert result.broken
    assert f"timespan '{timespan}' is too long: a duration is at most 366d" in result.reason


@pytest.mark.parametrize(("timespan", "days"), [("366d", 366), ("1y", 365.2425)])
def test_a_timespan_of_up_to_366_days_is_kept(timespan: str, days: float) -> None:
    """The longest window accepted is 366 days (Sigma's 1y is shorter)."""
    spec = one(
        f"""  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: {timespan}
  condition: {{gte: 2}}"""
    )
    assert spec.timespan == timedelta(days=days)


def test_a_huge_threshold_is_checked_without_counting_up_to_it() -> None:
    """Whether a condition can hold is decided from its bounds, not from an array as long
    as the threshold (gte 10^15 was 8 PB of counts to try)."""
    spec = one(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 1000000000000000}"""
    )
    assert spec.possible
    assert spec.min_required == 10**15
    assert "can never be true" in refusal(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 1000000000000000, lt: 1000000000000000}"""
    )


def test_a_condition_value_past_2_to_the_53_is_refused() -> None:
    """A count no correlation can hold exactly (nor convert to a float) is a broken rule."""
    result = build(
        f"""  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 1m
  condition: {{gte: {10**400}}}"""
    )
    assert isinstance(result, UnsupportedCorrelation)
    assert result.broken
    assert "is past 9007199254740992 (2^53)" in result.reason
