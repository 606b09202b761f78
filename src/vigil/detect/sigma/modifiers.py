"""Value matching: what one Sigma value means as a polars test on one column.

pySigma has already applied the rule's modifiers to each value (`contains` put
wildcards around a `SigmaString`, `base64offset` and `windash` produced a
`SigmaExpansion` of alternatives, `re` a `SigmaRegularExpression`, and so on). This
module turns each resulting value into a `Matcher`, checked once at compile time, and
a matcher into a `pl.Expr` for a column of a given dtype when a batch's schema is known.

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
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from vigil.detect.sigma.ipaddr import in_networks
from vigil.detect.sigma.mapping import Schema, column
from vigil.detect.sigma.regex import escape, rust_regex_error


class UnsupportedValue(Exception):
    """A value vigil cannot evaluate faithfully; the message is the reason."""


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


# ---- compile time: pySigma value → Matcher ------------------------------------------

StringPart = str | SpecialChars


def string_matcher(parts: list[StringPart], cased: bool) -> StringMatch:
    """The cheapest test for a wildcard pattern given as literal and wildcard parts."""
    norm: list[StringPart] = []
    for part in parts:
        if isinstance(part, str):
            text = part if cased else part.lower()
            if norm and isinstance(norm[-1], str):
                norm[-1] += text
            else:
                norm.append(text)
        elif not (part is SpecialChars.WILDCARD_MULTI and norm and norm[-1] is part):
            norm.append(part)
    star = SpecialChars.WILDCARD_MULTI
    literal = [p for p in norm if isinstance(p, str)]
    wild = [p for p in norm if not isinstance(p, str)]
    if not wild:
        return StringMatch("eq", ("".join(literal),), cased)
    if norm == [star]:
        return StringMatch("any", ("",), cased)
    if len(literal) == 1 and all(w is star for w in wild):
        if norm == [star, literal[0], star]:
            return StringMatch("contains", (literal[0],), cased)
        if norm == [literal[0], star]:
            return StringMatch("prefix", (literal[0],), cased)
        if norm == [star, literal[0]]:
            return StringMatch("suffix", (literal[0],), cased)
    return StringMatch("glob", (_glob_regex(norm),), cased)


def _glob_regex(parts: list[StringPart]) -> str:
    star = SpecialChars.WILDCARD_MULTI
    anchored_start = parts[0] is not star
    anchored_end = parts[-1] is not star
    body = parts[(0 if anchored_start else 1) : (len(parts) if anchored_end else -1)]
    out = []
    for p in body:
        if isinstance(p, str):
            out.append(escape(p))
        else:
            out.append(".*" if p is star else ".")
    # (?s): Sigma wildcards match any character, newlines included.
    return "(?s)" + ("^" if anchored_start else "") + "".join(out) + ("$" if anchored_end else "")


def sigma_string_parts(value: SigmaString) -> list[StringPart]:
    parts: list[StringPart] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedValue(
                f"placeholder %{part.name}% (expand modifier) has no value list in vigil"
            )
        parts.append(part)
    return parts


_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def regex_matcher(value: SigmaRegularExpression) -> RegexMatch:
    if value.regexp.contains_placeholder():
        raise UnsupportedValue("placeholder in regular expression (expand modifier)")
    pattern = str(value.regexp)
    flags = "".join(sorted(_FLAGS[f] for f in value.flags))
    if flags:
        pattern = f"(?{flags}){pattern}"
    error = rust_regex_error(pattern)
    if error is not None:
        raise UnsupportedValue(f"regular expression {str(value.regexp)!r}: {error}")
    return RegexMatch(pattern)


def value_matcher(value: object) -> Matcher:  # noqa: PLR0911 - one case per value type
    """The matcher for one (already modified) value bound to a field."""
    match value:
        case SigmaString():
            return string_matcher(sigma_string_parts(value), isinstance(value, SigmaCasedString))
        case SigmaRegularExpression():
            return regex_matcher(value)
        case SigmaTimestampPart():
            return TimePartMatch(value.timestamp_part, int(value.number))
        case SigmaNumber():
            return NumberMatch(value.number)
        case SigmaBool():
            return BoolMatch(value.boolean)
        case SigmaNull():
            return NullMatch()
        case SigmaExists():
            return ExistsMatch(value.exists)
        case SigmaCompareExpression():
            return CompareMatch(value.op, value.number.number)
        case SigmaCIDRExpression():
            return CidrMatch((value.network,))
        case SigmaFieldReference():
            raise UnsupportedValue("field reference must be resolved by the compiler")
    raise UnsupportedValue(f"value type {type(value).__name__} is not supported")


def keyword_matcher(value: object) -> Matcher:
    """The matcher for a keyword (a value with no field), searched in the message.

    A keyword is a substring search, as in the full-text search of a log line that
    Sigma's keywords stand for: wildcards are honoured, and leading and trailing ones are
    implied.
    """
    star = SpecialChars.WILDCARD_MULTI
    match value:
        case SigmaString():
            parts = sigma_string_parts(value)
            return string_matcher([star, *parts, star], isinstance(value, SigmaCasedString))
        case SigmaNumber():
            return string_matcher([star, str(value.number), star], cased=False)
        case SigmaRegularExpression():
            return regex_matcher(value)
    raise UnsupportedValue(f"keyword of type {type(value).__name__} needs a field")
