"""pySigma's parsed rule → vigil's checked condition tree (`compiler.CompiledRule`).

Only compiling imports this module, and with it pySigma: a rule pack read from the cache
never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaFieldReference

from vigil.detect.sigma.compiler import (
    AllOf,
    AnyOf,
    CompiledRule,
    FieldTest,
    Negation,
    Node,
    RuleMeta,
    Unsupported,
    rule_key,
    rule_name,
)
from vigil.detect.sigma.mapping import Logsource, find_logsource
from vigil.detect.sigma.modifiers import CidrMatch, FieldRefMatch, StringKind, StringMatch
from vigil.detect.sigma.regex import rust_regex_error
from vigil.detect.sigma.values import UnsupportedValue, keyword_matcher, value_matcher
from vigil.schema.fields import F

# The column keyword (field-less) searches look in.
KEYWORD_FIELD = F.MESSAGE
# Rule-level options live under this top-level key of a rule (pySigma keeps unknown
# top-level keys in rule.custom_attributes):  vigil: {entity: [source.ip, destination.ip]}
OPTIONS_KEY = "vigil"
_OPTIONS = frozenset({"entity"})


class InvalidOption(Exception):
    """The rule's `vigil:` options are wrong (a typo, a wrong shape): the rule is broken."""


def compile_rule(rule: SigmaRule, logsource: Logsource | None = None) -> CompiledRule | Unsupported:
    """Compile one rule's detection, or say why vigil cannot evaluate it.

    `logsource` overrides the table lookup of the rule's own logsource (to run a rule
    over a source it was not written for, e.g. hunting in JSON lines).
    """
    if rule.errors:
        return Unsupported(RuleMeta.of(rule), f"rule has errors: {rule.errors[0]}", broken=True)
    ls = rule.logsource
    logsource = logsource or find_logsource(ls.product, ls.category, ls.service)
    if logsource is None:
        return Unsupported(RuleMeta.of(rule), f"no vigil parser produces logsource {_describe(ls)}")
    try:
        entity = _entity_option(rule, logsource)
        trees = [_node(c.parsed, logsource) for c in rule.detection.parsed_condition]
    except InvalidOption as e:
        return Unsupported(RuleMeta.of(rule), str(e), broken=True)
    except UnsupportedValue as e:
        return Unsupported(RuleMeta.of(rule), str(e))
    except SigmaError as e:
        # pySigma parses conditions lazily: an undefined selection surfaces here. Its
        # str() appends the rule's path, which Unsupported already carries.
        reason = str(e.args[0]) if e.args else type(e).__name__
        return Unsupported(RuleMeta.of(rule), reason, broken=True)
    condition = trees[0] if len(trees) == 1 else AnyOf(tuple(trees))
    return CompiledRule(
        RuleMeta.of(rule), rule_key(rule), rule_name(rule), logsource, condition, entity, rule
    )


def _describe(ls: Any) -> str:
    keys = ("product", "category", "service")
    given = [f"{k}={getattr(ls, k)}" for k in keys if getattr(ls, k) is not None]
    return " ".join(given) if given else "(empty)"


def _entity_option(rule: SigmaRule, logsource: Logsource) -> tuple[str, ...] | None:
    options = rule.custom_attributes.get(OPTIONS_KEY)
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InvalidOption(f"'{OPTIONS_KEY}:' must be a mapping of options")
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise InvalidOption(f"unknown '{OPTIONS_KEY}:' option(s): {', '.join(unknown)}")
    entity = options.get("entity")
    if entity is None:
        return None
    names = [entity] if isinstance(entity, str) else entity
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidOption(f"'{OPTIONS_KEY}: entity' must be a field name or a list of them")
    return tuple(_map_field(n, logsource) for n in names)


def _map_field(name: str, logsource: Logsource) -> str:
    mapped = logsource.field(name)
    if mapped is None:
        raise UnsupportedValue(f"field {name!r} has no vigil column for logsource {logsource.name}")
    return mapped


def _node(cond: object, logsource: Logsource) -> Node:
    match cond:
        case ConditionAND():
            return _flatten(AllOf, [_node(a, logsource) for a in cond.args])
        case ConditionOR():
            return _merge_or(_flatten(AnyOf, [_node(a, logsource) for a in cond.args]))
        case ConditionNOT():
            return Negation(_node(cond.args[0], logsource))
        case ConditionFieldEqualsValueExpression():
            return _field_test(_map_field(cond.field, logsource), cond.value, logsource)
        case ConditionValueExpression():
            return _keyword_test(cond.value)
    raise UnsupportedValue(f"condition element {type(cond).__name__} is not supported")


def _field_test(field: str, value: object, logsource: Logsource) -> Node:
    if isinstance(value, SigmaExpansion):
        # base64offset / windash alternatives: OR-linked whatever links the value list.
        return _merge_or(AnyOf(tuple(_field_test(field, v, logsource) for v in value.values)))
    if isinstance(value, SigmaFieldReference):
        other = _map_field(value.field, logsource)
        return FieldTest(field, FieldRefMatch(other, value.starts_with, value.ends_with))
    matcher = value_matcher(value)
    return FieldTest(field, _checked(matcher) if isinstance(matcher, StringMatch) else matcher)


def _keyword_test(value: object) -> Node:
    if isinstance(value, SigmaExpansion):
        return _merge_or(AnyOf(tuple(_keyword_test(v) for v in value.values)))
    matcher = keyword_matcher(value)
    return FieldTest(
        KEYWORD_FIELD, _checked(matcher) if isinstance(matcher, StringMatch) else matcher
    )


def _flatten(kind: type[AllOf] | type[AnyOf], args: Sequence[Node]) -> Node:
    flat: list[Node] = []
    for a in args:
        flat.extend(a.args if isinstance(a, kind) else (a,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _merge_or(node: Node) -> Node:
    """Fold OR-ed tests of one kind on one field into one test: a value list becomes one
    `is_in`, one Aho-Corasick `contains_any`, one regex alternation, or one CIDR regex
    over the address parsed once."""
    if not isinstance(node, AnyOf):
        return node
    groups: dict[tuple[str, str, bool], list[Any]] = {}
    out: list[Node | tuple[str, str, bool]] = []
    for a in node.args:
        key: tuple[str, str, bool] | None = None
        values: tuple[Any, ...] = ()
        if isinstance(a, FieldTest) and isinstance(a.matcher, StringMatch):
            if a.matcher.kind != "any":
                key = (a.field, a.matcher.kind, a.matcher.cased)
                values = a.matcher.values
        elif isinstance(a, FieldTest) and isinstance(a.matcher, CidrMatch):
            key, values = (a.field, "cidr", False), a.matcher.networks
        if key is None:
            out.append(a)
            continue
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].extend(v for v in values if v not in groups[key])
    nodes = [item if not isinstance(item, tuple) else _merged(item, groups[item]) for item in out]
    return nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))


def _merged(key: tuple[str, str, bool], values: list[Any]) -> FieldTest:
    field, kind, cased = key
    if kind == "cidr":
        return FieldTest(field, CidrMatch(tuple(values)))
    return FieldTest(field, _checked(StringMatch(cast(StringKind, kind), tuple(values), cased)))


# Regexes vigil builds from escaped literals are valid by construction; only their
# compiled size can fail (Rust's 10 MB limit), and only long ones come near it.
_CHECK_REGEX_LONGER_THAN = 2000


def _checked(matcher: StringMatch) -> StringMatch:
    """The matcher, once Rust's engine has accepted its regex (size limit included)."""
    if matcher.uses_regex() and len(matcher.regex()) > _CHECK_REGEX_LONGER_THAN:
        error = rust_regex_error(matcher.regex())
        if error is not None:
            count = len(matcher.values)
            raise UnsupportedValue(f"{matcher.kind} test of {count} value(s): {error}")
    return matcher
