"""Value matching: what one Sigma value means as a polars test on one column.

A `Matcher` is one checked value test (built at compile time by `values`); it becomes
a `pl.Expr` for a column once a batch's schema says the column's dtype.

Sigma semantics kept here: strings match case-insensitively unless `cased`
(column and pattern are lower-cased; the lower-casing of a column is shared by every
rule in one `select` through polars' common-subexpression elimination), numbers compare
numerically on numeric columns and as text otherwise, a list column matches when any
element does, and a column of a type that cannot hold the value does not match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Literal, Protocol

import polars as pl
from sigma.types import CompareOperators, TimestampPart

from vigil.detect.sigma.ipaddr import in_networks
from vigil.detect.sigma.mapping import Schema, column
from vigil.detect.sigma.regex import escape


@dataclass(frozen=True)
class Column:
    """A field as one batch has it: its expression, its dtype, and the batch's schema
    (for matchers that read a second field)."""

    expr: pl.Expr
    dtype: pl.DataType
    schema: Schema


class Matcher(Protocol):
    def expr(self, col: Column) -> pl.Expr:
        """The test on the column; may be null where the value is null."""
        ...


def text_of(col: Column) -> pl.Expr | None:
    """The column as text, or None when its values have no text form worth matching."""
    dtype = col.dtype
    if dtype == pl.String:
        return col.expr
    if dtype.is_numeric() or dtype.is_temporal() or dtype in (pl.Boolean, pl.Categorical):
        return col.expr.cast(pl.String)
    if isinstance(dtype, pl.Enum):
        return col.expr.cast(pl.String)
    return None


def _no_match() -> pl.Expr:
    return pl.lit(False)


StringKind = Literal["eq", "prefix", "suffix", "contains", "glob", "any"]


def _alternation(values: list[str]) -> str:
    return "(?:" + "|".join(escape(v) for v in values) + ")"


@dataclass(frozen=True)
class StringMatch:
    """One or more string patterns of one kind on one field (any of them matches).

    `values` are lower-cased unless `cased`; for kind "glob" they are Rust regexes.
    """

    kind: StringKind
    values: tuple[str, ...]
    cased: bool = False

    def expr(self, col: Column) -> pl.Expr:
        text = text_of(col)
        if text is None:
            return _no_match()
        if self.kind == "any":
            return text.is_not_null()
        if not self.cased:
            text = text.str.to_lowercase()
        tests = _ONE if len(self.values) == 1 else _MANY
        return tests[self.kind](text, list(self.values))


_Test = Callable[[pl.Expr, list[str]], pl.Expr]
_ONE: dict[str, _Test] = {
    "eq": lambda t, v: t == v[0],
    "contains": lambda t, v: t.str.contains(v[0], literal=True),
    "prefix": lambda t, v: t.str.starts_with(v[0]),
    "suffix": lambda t, v: t.str.ends_with(v[0]),
    "glob": lambda t, v: t.str.contains(v[0]),
}
_MANY: dict[str, _Test] = {
    "eq": lambda t, v: t.is_in(v),
    # Aho-Corasick over all the alternatives in one pass.
    "contains": lambda t, v: t.str.contains_any(v),
    "prefix": lambda t, v: t.str.contains("^" + _alternation(v)),
    "suffix": lambda t, v: t.str.contains(_alternation(v) + "$"),
    "glob": lambda t, v: t.str.contains("|".join(f"(?:{p})" for p in v)),
}


@dataclass(frozen=True)
class RegexMatch:
    pattern: str

    def expr(self, col: Column) -> pl.Expr:
        text = text_of(col)
        return _no_match() if text is None else text.str.contains(self.pattern)


@dataclass(frozen=True)
class NumberMatch:
    number: int | float

    def expr(self, col: Column) -> pl.Expr:
        if col.dtype.is_numeric():
            return col.expr == self.number
        text = text_of(col)
        return _no_match() if text is None else text == str(self.number)


@dataclass(frozen=True)
class BoolMatch:
    value: bool

    def expr(self, col: Column) -> pl.Expr:
        if col.dtype == pl.Boolean:
            return col.expr == self.value
        text = text_of(col)
        if text is None:
            return _no_match()
        return text.str.to_lowercase() == ("true" if self.value else "false")


@dataclass(frozen=True)
class NullMatch:
    def expr(self, col: Column) -> pl.Expr:
        return col.expr.is_null()


@dataclass(frozen=True)
class ExistsMatch:
    exists: bool

    def expr(self, col: Column) -> pl.Expr:
        return col.expr.is_not_null() if self.exists else col.expr.is_null()


_COMPARE = {
    CompareOperators.LT: pl.Expr.lt,
    CompareOperators.LTE: pl.Expr.le,
    CompareOperators.GT: pl.Expr.gt,
    CompareOperators.GTE: pl.Expr.ge,
    CompareOperators.NEQ: pl.Expr.ne,
}


@dataclass(frozen=True)
class CompareMatch:
    op: CompareOperators
    number: int | float

    def expr(self, col: Column) -> pl.Expr:
        if col.dtype.is_numeric():
            value = col.expr
        elif col.dtype == pl.String:
            value = col.expr.str.strip_chars().cast(pl.Float64, strict=False)
        else:
            return _no_match()
        return _COMPARE[self.op](value, self.number)


@dataclass(frozen=True)
class CidrMatch:
    """The field is an IPv4 or IPv6 address inside one of `networks`."""

    networks: tuple[IPv4Network | IPv6Network, ...]

    def expr(self, col: Column) -> pl.Expr:
        if col.dtype != pl.String:
            return _no_match()
        return in_networks(col.expr, self.networks)


@dataclass(frozen=True)
class FieldRefMatch:
    """The field equals (or starts/ends with, or contains) another field of the event."""

    other: str
    starts_with: bool = False
    ends_with: bool = False
    cased: bool = False

    def expr(self, col: Column) -> pl.Expr:
        other_expr, other_dtype = column(col.schema, self.other)
        other = Column(other_expr, other_dtype, col.schema)
        plain = not (self.starts_with or self.ends_with)
        if plain and col.dtype.is_numeric() and other.dtype.is_numeric():
            return col.expr == other.expr
        a, b = text_of(col), text_of(other)
        if a is None or b is None:
            return _no_match()
        if not self.cased:
            a, b = a.str.to_lowercase(), b.str.to_lowercase()
        if plain:
            return a == b
        if self.starts_with and self.ends_with:
            return a.str.contains(b, literal=True)
        return a.str.starts_with(b) if self.starts_with else a.str.ends_with(b)


@dataclass(frozen=True)
class TimePartMatch:
    part: TimestampPart
    number: int

    def expr(self, col: Column) -> pl.Expr:
        if not (isinstance(col.dtype, pl.Datetime) or col.dtype == pl.Date):
            return _no_match()
        dt = col.expr.dt
        parts = {
            TimestampPart.MINUTE: dt.minute,
            TimestampPart.HOUR: dt.hour,
            TimestampPart.DAY: dt.day,
            TimestampPart.WEEK: dt.week,
            TimestampPart.MONTH: dt.month,
            TimestampPart.YEAR: dt.year,
        }
        return parts[self.part]() == self.number


def field_test(matcher: Matcher, col: Column) -> pl.Expr:
    """Apply `matcher` to a column, element-wise for list columns (any element matches)."""
    if isinstance(col.dtype, pl.List) and not isinstance(matcher, (NullMatch, ExistsMatch)):
        if isinstance(matcher, FieldRefMatch):
            return _no_match()
        inner = col.dtype.inner
        element = Column(
            pl.element(), inner if isinstance(inner, pl.DataType) else inner(), col.schema
        )
        return col.expr.list.eval(matcher.expr(element)).list.any()
    return matcher.expr(col)
