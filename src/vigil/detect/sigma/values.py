"""pySigma values → `Matcher`s, once per rule at compile time.

pySigma has already applied the rule's modifiers to each value: `contains`,
`startswith` and `endswith` put wildcards around a `SigmaString`; `base64`,
`base64offset`, `utf16le/be`, `wide` and `windash` rewrote it (the last two into a
`SigmaExpansion` of alternatives); `re` made a `SigmaRegularExpression` with its i/m/s
flags; `cidr`, `gt/gte/lt/lte`, `exists`, `fieldref`, `cased` and the time-part
modifiers made their own types. Here each becomes the cheapest test that means the
same: equality, prefix, suffix or substring where the wildcards allow, a regex
otherwise. Anything vigil cannot evaluate faithfully raises `UnsupportedValue`.
"""

from __future__ import annotations

from sigma.types import (
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
)

from vigil.detect.sigma.modifiers import (
    BoolMatch,
    CidrMatch,
    CompareMatch,
    CompareOp,
    ExistsMatch,
    Matcher,
    NullMatch,
    NumberMatch,
    RegexMatch,
    StringMatch,
    TimePart,
    TimePartMatch,
)
from vigil.detect.sigma.regex import escape, rust_regex_error

_COMPARE_OPS: dict[str, CompareOp] = {
    "LT": "lt",
    "LTE": "lte",
    "GT": "gt",
    "GTE": "gte",
    "NEQ": "neq",
}
_TIME_PARTS: dict[str, TimePart] = {
    "MINUTE": "minute",
    "HOUR": "hour",
    "DAY": "day",
    "WEEK": "week",
    "MONTH": "month",
    "YEAR": "year",
}


class UnsupportedValue(Exception):
    """A value vigil cannot evaluate faithfully; the message is the reason."""


StringPart = str | SpecialChars


def string_matcher(parts: list[StringPart], cased: bool) -> StringMatch:
    """The cheapest test for a wildcard pattern given as literal and wildcard parts."""
    norm: list[StringPart] = []
    for part in parts:
        if isinstance(part, str):
            text = part
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
        raise UnsupportedValue(f"regular expression '{value.regexp}': {error}")
    return RegexMatch(pattern)


def value_matcher(value: object) -> Matcher:  # noqa: PLR0911 - one case per value type
    """The matcher for one (already modified) value bound to a field."""
    match value:
        case SigmaString():
            return string_matcher(sigma_string_parts(value), isinstance(value, SigmaCasedString))
        case SigmaRegularExpression():
            return regex_matcher(value)
        case SigmaTimestampPart():
            return TimePartMatch(_TIME_PARTS[value.timestamp_part.name], int(value.number))
        case SigmaNumber():
            return NumberMatch(value.number)
        case SigmaBool():
            return BoolMatch(value.boolean)
        case SigmaNull():
            return NullMatch()
        case SigmaExists():
            return ExistsMatch(value.exists)
        case SigmaCompareExpression():
            return CompareMatch(_COMPARE_OPS[value.op.name], value.number.number)
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
