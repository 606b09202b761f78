"""Sigma rule → a condition tree over vigil's columns → one polars expression.

`compile_rule` (see `translate`) does every check once: the logsource must be one vigil
parses, every field must map to a vigil column, every value must be one vigil can
evaluate (a regex Rust's engine runs, no unresolved placeholder). The result is either a
`CompiledRule` or an `Unsupported` with the reason; nothing is dropped or half-evaluated.

A `CompiledRule` keeps the checked tree and lowers it to a `pl.Expr` for a batch
schema (`expr(schema)`): whether a field is numeric or text, a list, or absent from the
batch is only known then, and decides the test (see `modifiers`).

Nothing here imports pySigma: a compiled rule holds the rule's description (`RuleMeta`)
and reads the pySigma rule again from its file only when asked (`rule`), so a rule pack
kept in the cache (`detect.pack_cache`) runs without loading pySigma at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from vigil.detect.sigma.mapping import Logsource, Schema, column
from vigil.detect.sigma.modifiers import (
    Column,
    FieldRefMatch,
    Matcher,
    field_test,
    is_per_value,
)

if TYPE_CHECKING:
    from sigma.rule import SigmaRule


@dataclass(frozen=True)
class FieldTest:
    field: str
    matcher: Matcher


@dataclass(frozen=True)
class AllOf:
    args: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    arg: Node


Node = FieldTest | AllOf | AnyOf | Negation


def lower(node: Node, schema: Schema, given: Mapping[FieldTest, pl.Expr] | None = None) -> pl.Expr:
    """The node as a boolean expression that is never null (Sigma's two-valued logic).

    `given` holds field tests already answered for this batch (see `per_value_tests`)."""
    match node:
        case FieldTest(field, matcher):
            if given is not None and node in given:
                return given[node]
            expr, dtype = column(schema, field)
            return field_test(matcher, Column(expr, dtype, schema)).fill_null(False)
        case AllOf(args):
            return pl.all_horizontal([lower(a, schema, given) for a in args])
        case AnyOf(args):
            return pl.any_horizontal([lower(a, schema, given) for a in args])
        case Negation(arg):
            return ~lower(arg, schema, given)
    raise TypeError(f"not a condition node: {node!r}")


def per_value_tests(node: Node, schema: Schema) -> Iterator[FieldTest]:
    """The node's field tests on a text column whose answer depends on each value alone
    (a row's own text, no other field, no match for null): they can be answered once
    per distinct value of the column."""
    match node:
        case FieldTest(field, matcher):
            if is_per_value(matcher) and column(schema, field)[1] == pl.String:
                yield node
        case AllOf(args) | AnyOf(args):
            for a in args:
                yield from per_value_tests(a, schema)
        case Negation(arg):
            yield from per_value_tests(arg, schema)


def fields_of(node: Node) -> frozenset[str]:
    match node:
        case FieldTest(field, FieldRefMatch(other=other)):
            return frozenset({field, other})
        case FieldTest(field, _):
            return frozenset({field})
        case AllOf(args) | AnyOf(args):
            return frozenset().union(*(fields_of(a) for a in args))
        case Negation(arg):
            return fields_of(arg)
    raise TypeError(f"not a condition node: {node!r}")


@dataclass(frozen=True)
class RuleMeta:
    """What alerts and reports say about a rule, without pySigma's object."""

    key: str
    sigma_name: str | None  # the rule's `name:` as written
    id: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    author: str | None
    path: str | None  # the file it was read from

    @classmethod
    def of(cls, rule: Any) -> RuleMeta:
        return cls(
            key=rule_key(rule),
            sigma_name=str(rule.name) if rule.name else None,
            id=str(rule.id) if rule.id is not None else None,
            title=str(rule.title),
            level=str(rule.level) if rule.level is not None else "medium",
            tags=tuple(str(t) for t in rule.tags),
            author=rule.author,
            path=str(rule.source.path) if rule.source is not None else None,
        )


class _FromRuleFile:
    """What a compiled and an unsupported rule share: their meta, and pySigma's rule,
    kept when compiled now, read again from its file for a rule from the cache."""

    meta: RuleMeta
    source: SigmaRule | None

    @property
    def rule(self) -> SigmaRule:
        """pySigma's rule (read again from its file for a rule from the cache)."""
        if self.source is None:
            object.__setattr__(self, "source", reload_rule(self.meta))
        assert self.source is not None
        return self.source

    @property
    def title(self) -> str:
        return self.meta.title


@dataclass(frozen=True, eq=False)
class CompiledRule(_FromRuleFile):
    meta: RuleMeta
    key: str
    name: str
    logsource: Logsource
    condition: Node
    # Columns that identify what an alert is about; None = the detector's default.
    entity: tuple[str, ...] | None = None
    # pySigma's rule; None for a rule from the cache (read again when asked for).
    source: SigmaRule | None = field(default=None, repr=False)

    @property
    def level(self) -> str:
        return self.meta.level

    @property
    def author(self) -> str | None:
        return self.meta.author

    @property
    def tags(self) -> tuple[str, ...]:
        return self.meta.tags

    @property
    def fields(self) -> frozenset[str]:
        return fields_of(self.condition)

    def expr(self, schema: Schema, given: Mapping[FieldTest, pl.Expr] | None = None) -> pl.Expr:
        """The rule's condition on a batch of this schema, rows of its logsource or not
        (`given`: tests already answered, see `lower`)."""
        return lower(self.condition, schema, given)


@dataclass(frozen=True, eq=False)
class Unsupported(_FromRuleFile):
    """A rule vigil does not run, and why. `broken`: the rule itself is wrong (an
    undefined selection, an unknown `vigil:` option), a load error rather than valid
    Sigma that vigil cannot evaluate (a modifier or logsource it lacks)."""

    meta: RuleMeta
    reason: str
    source: SigmaRule | None = field(default=None, repr=False)
    broken: bool = False

    @property
    def path(self) -> str | None:
        return self.meta.path

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.title}{where}: {self.reason}"


# Where the loader keeps the name it gave a rule without `name:` (see `given_name`).
NAME_ATTRIBUTE = "vigil-name"


def rule_key(rule: Any) -> str:
    """How rules are told apart (and referenced by correlations): id, else name, else title."""
    if rule.id is not None:
        return str(rule.id)
    if rule.name:
        return str(rule.name)
    given = rule.custom_attributes.get(NAME_ATTRIBUTE)
    return str(given) if given else str(rule.title)


def rule_name(rule: Any) -> str:
    """The rule's name in alerts, `rules list`, `disabled` and suppressions: its `name:`,
    else the name the loader gave it (`given_name`), else its title as a slug."""
    if rule.name:
        return str(rule.name)
    given = rule.custom_attributes.get(NAME_ATTRIBUTE)
    if given:
        return str(given)
    return _slug(str(rule.title)) or rule_key(rule)


def given_name(rule: Any, *, alone: bool) -> str:
    """The name of a rule without `name:` (as SigmaHQ writes them): its file's stem when
    it is the only rule of its file, else its `id` (stable when the file is reordered),
    else its title as a slug. The loader refuses two rules of one name in a pack."""
    path = rule.source.path if rule.source is not None else None
    if alone and path is not None and path.suffix in (".yml", ".yaml"):
        return str(path.stem)
    if rule.id is not None:
        return str(rule.id)
    return _slug(str(rule.title)) or str(rule.title)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def reload_rule(meta: RuleMeta) -> SigmaRule:
    """The pySigma rule `meta` describes, read again from its file."""
    from vigil.detect.sigma.loader import load_rules  # noqa: PLC0415 - pySigma on demand

    if meta.path is not None:
        for rule in load_rules([meta.path]).rules:
            if rule_key(rule) == meta.key:
                return rule
    raise LookupError(f"rule {meta.title!r} is no longer in {meta.path or 'its source'}")


def compile_rule(rule: SigmaRule, logsource: Logsource | None = None) -> CompiledRule | Unsupported:
    """Compile one rule's detection, or say why vigil cannot evaluate it (see
    `translate.compile_rule`)."""
    from vigil.detect.sigma import translate  # noqa: PLC0415 - pySigma only to compile

    return translate.compile_rule(rule, logsource)


def compile_rules(rules: Iterable[SigmaRule]) -> tuple[list[CompiledRule], list[Unsupported]]:
    compiled: list[CompiledRule] = []
    unsupported: list[Unsupported] = []
    for rule in rules:
        result = compile_rule(rule)
        if isinstance(result, CompiledRule):
            compiled.append(result)
        else:
            unsupported.append(result)
    return compiled, unsupported
