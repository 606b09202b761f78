"""A Sigma correlation rule, checked once, as the small frozen spec the engine runs.

`spec_from_sigma` turns a pySigma `SigmaCorrelationRule` (its references resolved, as
`SigmaCollection` leaves them) into a `CorrelationSpec`, or into an
`UnsupportedCorrelation` that says why vigil will not run it. Nothing is half-supported:
a rule either means exactly what the package docstring says, or it is refused.

Range conditions (`gte: 5` and `lt: 100` in one mapping) are in the Sigma correlation
specification but pySigma 2.0.1 refuses them ("exactly one condition item"), so
`relax_range_conditions` rewrites such documents before pySigma sees them: pySigma gets
the first operator, and the whole mapping is kept under `correlation.vigil-condition`,
which pySigma ignores and this module reads back (pySigma keeps the raw `correlation:`
mapping in `rule.custom_attributes`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from vigil.config.durations import AT_MOST, MAX_SECONDS
from vigil.detect.sigma.compiler import rule_name

if TYPE_CHECKING:
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

# The largest condition value: counts are summed as float64, exact up to 2^53, and a
# larger int does not even convert to a float.
MAX_COUNT = 2**53

# Where relax_range_conditions keeps a multi-operator condition inside `correlation:`.
RANGE_KEY = "vigil-condition"

Op = Literal["gt", "gte", "lt", "lte", "eq"]
_OPS: frozenset[str] = frozenset({"gt", "gte", "lt", "lte", "eq"})
_UPPER: frozenset[str] = frozenset({"lt", "lte", "eq"})


class CorrelationKind(StrEnum):
    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"
    TEMPORAL_ORDERED = "temporal_ordered"


@dataclass(frozen=True, slots=True)
class Bound:
    """One comparison of the condition: `measure <op> value`."""

    op: Op
    value: float

    def holds(self, measure: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        v = self.value
        out: npt.NDArray[np.bool_]
        if self.op == "gt":
            out = measure > v
        elif self.op == "gte":
            out = measure >= v
        elif self.op == "lt":
            out = measure < v
        elif self.op == "lte":
            out = measure <= v
        else:
            out = measure == v
        return out


@dataclass(frozen=True, slots=True)
class RuleRef:
    """One referenced rule: how its matches are looked up, and where its fields are."""

    reference: str
    # Keys under which the detection stage may hand over this rule's matching rows
    # (the reference as written, the rule's name, its id), tried in this order.
    keys: tuple[str, ...]
    # The column holding each group-by value in this rule's rows (aliases resolved).
    group_fields: tuple[str, ...]
    # The column holding the counted value (value_count only).
    value_field: str | None = None


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    rule_id: str
    name: str
    title: str
    level: str
    tags: tuple[str, ...]
    kind: CorrelationKind
    rules: tuple[RuleRef, ...]
    group_by: tuple[str, ...]
    timespan: timedelta
    bounds: tuple[Bound, ...]
    # Whether the referenced rules also raise their own alerts (Sigma `generate`).
    generate: bool = False
    # The rule's `author:`, carried to its alerts as plain rules' alerts carry theirs.
    author: str | None = None

    @property
    def deferred(self) -> bool:
        """True when the condition has an upper bound, so it is decided when an episode ends."""
        return any(b.op in _UPPER for b in self.bounds)

    @property
    def min_required(self) -> int:
        """The smallest integer measure that can satisfy the lower bounds (0 if none)."""
        need = 0
        for b in self.bounds:
            if b.op == "gt":
                need = max(need, math.floor(b.value) + 1)
            elif b.op in ("gte", "eq"):
                need = max(need, math.ceil(b.value))
        return need

    @property
    def possible(self) -> bool:
        """Whether some count (a window holds at least one event) satisfies the condition.
        The counts that do are a range of integers, so its least member is 1 or the least
        integer a lower bound lets through: those few are tried, not every count up to
        the bound (a threshold of 10^12 would be an array of 10^12)."""
        lowest = {1} | {math.floor(b.value) + 1 for b in self.bounds}
        lowest |= {math.ceil(b.value) for b in self.bounds}
        tried = np.array(sorted(n for n in lowest if n >= 1), dtype=np.int64)  # <= 2^53 + 1
        return bool(self.holds(tried).any())

    def describe(self) -> str:
        """The condition as vigil.yaml and `rules list` spell it (`gte 3 and lt 7`)."""
        return _describe(self.bounds)

    def holds(self, measure: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        ok = np.ones(measure.shape, dtype=np.bool_)
        for b in self.bounds:
            ok &= b.holds(measure)
        return ok

    def beyond(self, measure: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Peaks past an upper bound: a peak only grows, so these can never satisfy it."""
        out = np.zeros(measure.shape, dtype=np.bool_)
        for b in self.bounds:
            if b.op == "lt":
                out |= measure >= b.value
            elif b.op in ("lte", "eq"):
                out |= measure > b.value
        return out


@dataclass(frozen=True)
class UnsupportedCorrelation:
    """A correlation rule vigil will not run, and why (no pySigma object: packs are cached)."""

    title: str
    reason: str
    path: str | None = None
    # The rule itself is wrong (it references nothing, its condition can never be true),
    # a load error rather than valid Sigma vigil does not run (a chain, a value_sum).
    broken: bool = False

    @classmethod
    def of(
        cls, rule: SigmaCorrelationRule, reason: str, *, broken: bool = False
    ) -> UnsupportedCorrelation:
        path = str(rule.source.path) if rule.source is not None else None
        return cls(str(rule.title), reason, path, broken)

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.title}{where}: {self.reason}"


class _Refused(Exception):
    """Internal: carries the reason a rule is refused up to spec_from_sigma: valid
    Sigma that vigil does not run."""


class _Broken(_Refused):
    """Internal: the rule is refused because it is wrong, whoever runs it."""


def relax_range_conditions(documents: Iterable[Any]) -> list[Any]:
    """Copies of YAML documents in which range conditions no longer trip pySigma."""
    return [_relaxed(doc) for doc in documents]


def _relaxed(doc: Any) -> Any:
    corr = doc.get("correlation") if isinstance(doc, dict) else None
    cond = corr.get("condition") if isinstance(corr, dict) else None
    if not isinstance(cond, dict) or len(_OPS.intersection(cond)) < 2:
        return doc
    assert isinstance(corr, dict)
    first = next(op for op in cond if op in _OPS)
    # pySigma gets one operator (and the field); anything else is checked by _bounds.
    kept = {k: v for k, v in cond.items() if k in ("field", "percentile") or k == first}
    return {**doc, "correlation": {**corr, "condition": kept, RANGE_KEY: dict(cond)}}


def load_collection(text: str) -> SigmaCollection:
    """A SigmaCollection from multi-document YAML, range conditions allowed."""
    import yaml  # noqa: PLC0415 - pySigma and YAML only where rules are parsed
    from sigma.collection import SigmaCollection  # noqa: PLC0415

    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    return SigmaCollection.from_dicts(relax_range_conditions(docs))


def specs_from_collection(
    collection: SigmaCollection,
) -> tuple[list[CorrelationSpec], list[UnsupportedCorrelation]]:
    """Every correlation rule of a collection, as a spec or with the reason it is refused."""
    specs: list[CorrelationSpec] = []
    refused: list[UnsupportedCorrelation] = []
    for rule in collection.rules:
        if isinstance(rule, _pysigma().SigmaCorrelationRule):
            result = spec_from_sigma(rule)
            if isinstance(result, CorrelationSpec):
                specs.append(result)
            else:
                refused.append(result)
    return specs, refused


def spec_from_sigma(rule: SigmaCorrelationRule) -> CorrelationSpec | UnsupportedCorrelation:
    """Check one correlation rule and turn it into a spec, or say why it is refused."""
    try:
        return _build(rule)
    except _Refused as e:
        return UnsupportedCorrelation.of(rule, str(e), broken=isinstance(e, _Broken))


def _build(rule: SigmaCorrelationRule) -> CorrelationSpec:
    if rule.errors:
        raise _Broken(f"rule has errors: {rule.errors[0]}")
    kind = _kind(rule.type)
    if not isinstance(rule.condition, _pysigma().SigmaCorrelationCondition):
        raise _Refused("extended (boolean expression) correlation conditions are not supported")
    refs = rule.referenced_rules or rule.rules or []
    if not refs:
        raise _Broken("the correlation references no rules")
    references = [r.reference for r in refs]
    if kind is not CorrelationKind.TEMPORAL_ORDERED and len(set(references)) != len(references):
        raise _Broken(f"a rule is listed twice in 'rules' of a {kind} correlation")
    group_by = tuple(rule.group_by or ())
    if len(set(group_by)) != len(group_by):
        raise _Broken("a field is listed twice in 'group-by'")
    aliases = _aliases(rule)
    fieldref = rule.condition.fieldref
    value_field = fieldref if isinstance(fieldref, str) else None
    if kind is CorrelationKind.VALUE_COUNT and value_field is None:
        raise _Broken("value_count needs one 'field' in its condition")
    if kind is not CorrelationKind.VALUE_COUNT:
        value_field = None
    rules = tuple(_ref(r, group_by, value_field, aliases) for r in refs)
    bounds = _bounds(rule)
    timespan = _timespan(rule)
    spec = CorrelationSpec(
        rule_id=str(rule.id) if rule.id is not None else str(rule.name or rule.title),
        name=rule_name(rule),
        title=str(rule.title),
        level=str(rule.level) if rule.level is not None else "medium",
        tags=tuple(str(t) for t in rule.tags),
        kind=kind,
        rules=rules,
        group_by=group_by,
        timespan=timespan,
        bounds=bounds,
        generate=bool(rule.generate),
        author=str(rule.author) if rule.author else None,
    )
    if not spec.possible:
        raise _Broken(f"condition {spec.describe()} can never be true")
    return spec


def _timespan(rule: SigmaCorrelationRule) -> timedelta:
    """The window, within the range every vigil duration has (pySigma already refuses
    0 and negative ones): a longer one overflows the window arithmetic on event times."""
    seconds = rule.timespan.seconds
    if seconds <= 0:
        raise _Broken(f"timespan {rule.timespan.spec!r} must be longer than 0 s")
    if seconds > MAX_SECONDS:
        raise _Broken(f"timespan {rule.timespan.spec!r} is too long: {AT_MOST}")
    return timedelta(seconds=seconds)


def _kind(t: SigmaCorrelationType) -> CorrelationKind:
    try:
        return CorrelationKind(str(t))
    except ValueError:
        raise _Refused(f"correlation type {t} is not supported") from None


def _aliases(rule: SigmaCorrelationRule) -> dict[str, dict[str, str]]:
    return {
        alias.alias: {ref.reference: name for ref, name in alias.mapping.items()}
        for alias in rule.aliases
    }


def _ref(
    ref: Any,
    group_by: Sequence[str],
    value_field: str | None,
    aliases: Mapping[str, Mapping[str, str]],
) -> RuleRef:
    target = getattr(ref, "rule", None)
    if target is None:
        raise _Broken(f"referenced rule {ref.reference!r} is not in the collection")
    if not isinstance(target, _pysigma().SigmaRule):
        raise _Refused(
            f"referenced rule {ref.reference!r} is a correlation; chains are not supported"
        )
    names = [ref.reference, target.name, str(target.id) if target.id is not None else None]
    keys = tuple(dict.fromkeys(k for k in names if k))

    def column(field: str) -> str:
        mapping = aliases.get(field)
        if mapping is None:
            return field
        for k in keys:
            if k in mapping:
                return mapping[k]
        raise _Broken(f"alias {field!r} names no field for rule {ref.reference!r}")

    return RuleRef(
        reference=ref.reference,
        keys=keys,
        group_fields=tuple(column(g) for g in group_by),
        value_field=column(value_field) if value_field is not None else None,
    )


def _bounds(rule: SigmaCorrelationRule) -> tuple[Bound, ...]:
    raw = rule.custom_attributes.get("correlation", {})
    full = raw.get(RANGE_KEY) if isinstance(raw, dict) else None
    if full is None:
        cond = rule.condition
        assert isinstance(cond, _pysigma().SigmaCorrelationCondition)
        items: dict[str, Any] = {cond.op.name.lower(): cond.count}
    elif isinstance(full, dict):
        items = {k: v for k, v in full.items() if k not in ("field", "percentile")}
    else:
        raise _Broken("the condition must be a mapping")
    bounds: list[Bound] = []
    for op, value in items.items():
        if op not in _OPS:
            raise _Broken(f"condition operator {op!r} is not supported (use gt/gte/lt/lte/eq)")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise _Broken(f"condition value {value!r} is not a number")
        if abs(value) > MAX_COUNT:
            shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:17]}..."
            raise _Broken(f"condition value {shown} is past {MAX_COUNT} (2^53)")
        bounds.append(Bound(op, float(value)))  # type: ignore[arg-type]
    return tuple(bounds)


def _describe(bounds: Sequence[Bound]) -> str:
    return " and ".join(f"{b.op} {b.value:g}" for b in bounds)


@functools.cache
def _pysigma() -> Any:
    """pySigma's classes, imported when a rule is read (never for a cached pack)."""
    from types import SimpleNamespace  # noqa: PLC0415

    from sigma.correlations import (  # noqa: PLC0415
        SigmaCorrelationCondition,
        SigmaCorrelationRule,
    )
    from sigma.rule import SigmaRule  # noqa: PLC0415

    return SimpleNamespace(
        SigmaCorrelationCondition=SigmaCorrelationCondition,
        SigmaCorrelationRule=SigmaCorrelationRule,
        SigmaRule=SigmaRule,
    )
