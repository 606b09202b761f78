"""Regular expressions for polars, whose engine is Rust's `regex` crate.

Sigma's `re` values are written for PCRE-like engines. Rust's engine runs in linear
time and has no look-around, backreferences, atomic groups or possessive quantifiers;
such a pattern is reported with the engine's own reason instead of being run wrong.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

# The characters Rust's regex syntax gives a meaning to (regex_syntax::is_meta_character).
_META = frozenset("\\.+*?()|[]{}^$#&-~")


def escape(literal: str) -> str:
    """`literal` as a regex that matches exactly it."""
    return "".join("\\" + c if c in _META else c for c in literal)


@lru_cache(maxsize=4096)
def rust_regex_error(pattern: str) -> str | None:
    """Why Rust's engine refuses `pattern`, or None when it compiles."""
    try:
        pl.select(pl.lit("", dtype=pl.String).str.contains(pattern))
    except pl.exceptions.PolarsError as e:
        return _reason(str(e))
    return None


def _reason(message: str) -> str:
    # polars wraps the regex crate's report: "regex error: regex parse error:\n  <pattern>
    # \n  ^^^\nerror: <reason>\n\nThis error occurred in ..."; keep the reason line.
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith("error:"):
            return stripped.removeprefix("error:").strip()
    first = message.strip().splitlines()
    return first[0].removeprefix("regex error:").strip() if first else "rejected by the engine"
