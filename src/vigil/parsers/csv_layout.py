"""What a CSV header says: the delimiter, the columns, the fields they become, and the
regular expression of one record. Built once per file from its header line (or from
the `columns` option), then applied to every chunk by `csvlog`.

Quoting follows RFC 4180 on one line: a field that starts with `"` (after blanks) ends
with the matching `"`, and `""` inside it is one `"`; a `"` later in an unquoted field
is an ordinary character. Blanks around a field are not part of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vigil.errors import UsageError
from vigil.schema.fields import F

# A record regex holds one group per column, and its size grows with them: polars
# refuses one of about 3,000 groups, and 1,000 take seconds per chunk.
MAX_COLUMNS = 256
# Candidates for the delimiter when no option names it, in order of preference.
DELIMITERS = (",", ";", "\t", "|")
# Columns named one of these (after normalising) hold the time: the first readable wins.
TIME_COLUMNS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date")
# Fields vigil sets itself: a column that would become one of them is left out.
OWN_FIELDS = frozenset({F.LOG_FILE_LINE, F.LOG_FILE_PATH})
# A header name a strict sniff accepts: an identifier, dotted or with inner spaces.
IDENTIFIER = re.compile(r"[A-Za-z_@][A-Za-z0-9_.@-]*(?: [A-Za-z0-9_.@-]+)*")


@dataclass(frozen=True)
class Layout:
    """The columns of a CSV file and what becomes of them."""

    delimiter: str
    header: str | None  # the header line as written, to skip where it repeats
    names: tuple[str, ...]  # as written in the header
    fields: tuple[str | None, ...]  # the field each column becomes; None: left out
    # Where @timestamp comes from: alternatives, the first readable wins; each is one
    # or more columns joined by a space (`date,time`).
    time_sources: tuple[tuple[int, ...], ...]
    problem: str | None  # why no record can be read (no time column, too many columns)

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def blanks(self) -> str:
        return "".join(c for c in " \t" if c != self.delimiter)

    def record_regex(self) -> str:
        """One capture group per column, the whole line matched."""
        d = escape(self.delimiter)
        b = "[" + escape(self.blanks) + "]"
        quoted = f'{b}*"(?:[^"]|"")*"{b}*'
        plain = f'{b}*(?:[^{d}"{escape(self.blanks)}][^{d}]*)?'
        field = f"({quoted}|{plain})"
        return "^" + d.join([field] * self.width) + "$"

    def quoted_regex(self) -> str:
        """A well-formed quoted field, to count the fields of a line that fails."""
        return '"(?:[^"]|"")*"'


def escape(text: str) -> str:
    """Text as a literal in a Rust regex (also inside a character class)."""
    return "".join(
        r"\t" if c == "\t" else "\\" + c if not c.isalnum() and c.isascii() and c != " " else c
        for c in text
    )


def delimiter_option(value: str | None) -> str | None:
    """The `delimiter` option as one character (`tab` or `\\t` name a tab)."""
    if value is None:
        return None
    if value in ("tab", "\\t", "\t"):
        return "\t"
    if len(value) != 1 or value in ('"', "\n", "\r") or value.isalnum():
        raise UsageError(
            f"csv delimiter must be one character other than a letter, digit or quote, "
            f"or 'tab'; got {value!r}"
        )
    return value


def detect_delimiter(header: str) -> str:
    """The candidate that splits the header into the most fields (at least two)."""
    counts = [(len(split_fields(header, d)), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] > 1 else DELIMITERS[0]


def split_fields(line: str, delimiter: str) -> list[str]:
    """One line's fields, unquoted (for the header only: records are split in polars)."""
    fields, current, quoted, i = [], [], False, 0
    while i < len(line):
        c = line[i]
        if quoted:
            if c == '"' and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                current.append(c)
        elif c == '"' and not "".join(current).strip():
            current, quoted = [], True
        elif c == delimiter:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    fields.append("".join(current).strip())
    return fields


def normalise(name: str) -> str:
    """A header name as a field name: lower case, runs of other characters than
    letters, digits, `_`, `.` and `@` as one `_` (`Source IP` → `source_ip`)."""
    return re.sub(r"[^a-z0-9_.@]+", "_", name.strip().lower()).strip("_")


def layout_of(
    names: list[str], delimiter: str, header: str | None, options: Mapping[str, str]
) -> Layout:
    """Columns to fields: `map.<name as written>` or `map.<normalised name>` if given,
    else the normalised name (`column_N` when empty, `_2`, `_3` ... on repeats)."""
    fields: list[str | None] = []
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        norm = normalise(name) or f"column_{i}"
        mapped = options.get(f"map.{name}") or options.get(f"map.{norm}")
        if mapped is None:
            base, n = norm, 1
            while norm in seen:
                n += 1
                norm = f"{base}_{n}"
        field = mapped or norm
        seen.add(norm)
        fields.append(None if field in OWN_FIELDS else field)
    time_sources, problem = _time_sources(names, fields, options)
    if len(names) > MAX_COLUMNS:
        problem = f"the header has {len(names)} columns, more than the {MAX_COLUMNS} allowed"
    return Layout(delimiter, header, tuple(names), tuple(fields), time_sources, problem)


def _time_sources(
    names: list[str], fields: list[str | None], options: Mapping[str, str]
) -> tuple[tuple[tuple[int, ...], ...], str | None]:
    wanted = options.get("timestamp_column")
    if wanted:
        joined: list[int] = []
        for want in (w.strip() for w in wanted.split(",")):
            hits = [
                i
                for i, (name, field) in enumerate(zip(names, fields, strict=True))
                if want in (name, normalise(name), field)
            ]
            if not hits:
                return (), f"timestamp column {want!r} is not in the header"
            joined.append(hits[0])
        return (tuple(joined),), None
    mapped = [(i,) for i, field in enumerate(fields) if field == F.TIMESTAMP]
    if mapped:
        return tuple(mapped), None
    named = [(i,) for c in TIME_COLUMNS for i, field in enumerate(fields) if field == c]
    if named:
        return tuple(named), None
    return (), (
        "no timestamp column (name one with --parser-option timestamp_column=NAME "
        "or --map NAME=@timestamp)"
    )


def looks_like_header(names: list[str]) -> bool:
    """A strict sniff's header: two or more distinct identifier-like names."""
    return (
        len(names) >= 2
        and len({n.lower() for n in names}) == len(names)
        and all(IDENTIFIER.fullmatch(n) for n in names)
    )
