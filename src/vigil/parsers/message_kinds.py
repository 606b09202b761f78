"""Turning syslog message bodies into event fields, one message shape ("kind") at a time.

A line's kind is found cheaply: one regex over the column picks the literal the message
starts with (`Failed `, `Invalid user `, `pam_unix(...): session opened`), and the
program that wrote it must be one the kind belongs to. Then each kind's own regex runs
only over its own rows (a slice of the rows sorted by kind; all kinds in one query),
never over every row. A message whose kind regex does not match keeps its syslog fields
and becomes a plain event.

Speed: a capturing regex is 2-3x faster when it is one-pass (at every character the
next step is certain: no `.*?`, no optional part that could also be the next token), so
the common kinds carry a `fast` one-pass pattern tried first, and the lenient `pattern`
only sees the rows the fast one missed (user names with spaces, odd suffixes).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from vigil.parsers.base import ENGINE, IP
from vigil.schema.fields import F

MSG = "_msg"
KIND = "_kind"
ROW = "_row"
# Set on every row a kind regex matched (its pattern starts with an empty group of
# this name), because a non-matching row gives all-null groups, like an optional one.
MATCHED = "matched"
_HIT = "_hit"
# The kinds' plans are straight lines the optimiser has nothing to gain on but shared
# subexpressions (an address group tested for being an IP by two fields): its other
# passes cost ~0.3M instructions per kind and chunk (callgrind).
_FLAGS = pl.QueryOptFlags.none()
_FLAGS.comm_subexpr_elim = True
# The kind code of rows left to the `anywhere` kinds (codes below it index the kinds).
_ANYWHERE = 1 << 16
# Literal prefixes a message may carry before the words that give its kind.
_OPTIONAL_PREFIX = "^(?:error: |fatal: )?(?:"
_PAM_PREFIX = "pam_unix("
_PAM_KIND_START = r"^pam_unix\([^)]*\): (?:"
# PAM services whose `pam_unix(service): ` prefix the first classifier step knows.
COMMON_PAM = (
    "sshd:auth",
    "sshd:session",
    "cron:session",
    "sudo:session",
    "sudo:auth",
    "su:session",
    "su:auth",
    "su-l:session",
    "systemd-user:session",
    "login:session",
    "login:auth",
    "passwd:chauthtok",
    "chpasswd:chauthtok",
)
_IS_IP = f"^{IP}$"


@dataclass(frozen=True, eq=False)
class MessageKind:
    """One shape of message and the fields it yields.

    `starts`: literals the message starts with (after an optional `error: `, `fatal: `
    or `pam_unix(service:type): `); a start of `""` takes every other message of the
    kind's programs. `programs`: the `process.name`s that write it; empty: any
    program. `pattern`: Rust regex over the message, unanchored so it can also be
    searched for in a whole line; `fast`: an optional one-pass regex with the same
    groups (or fewer), tried first. `action`, `outcome`, `category` and `fields`
    (output field → expression) are constants or expressions over the groups.
    `anywhere`: literals that, all found in a message of a program none of the kinds
    claims (or of no program), also give it this kind (a packet log relayed under a
    vendor's own tag, or none).
    """

    name: str
    starts: tuple[str, ...]
    pattern: str
    action: str | pl.Expr | None
    outcome: str | pl.Expr | None
    fields: Mapping[str, pl.Expr] = field(default_factory=dict)
    programs: frozenset[str] = frozenset()
    category: str | None = None
    fast: str | None = None
    anywhere: tuple[str, ...] = ()

    def extract(self, rows: pl.DataFrame) -> pl.DataFrame:
        """This kind's fields (and `_row`) for the rows (`_row`, `_msg`) it matches."""
        return extract_kinds([(self, rows.lazy())])[0]

    def plan(self, rows: pl.LazyFrame, pattern: str) -> pl.LazyFrame:
        """The fields of `rows` (`_row`, `_msg`) as `pattern` (the kind's `fast` or
        `pattern`) reads them, with `_hit`: whether it matched (the fields of a row it
        did not match are null or constants)."""
        extract, absent, fields = _plan_parts(self, pattern)
        return rows.with_columns(extract).unnest("_g").with_columns(absent).select(fields)


@functools.cache
def _plan_parts(kind: MessageKind, pattern: str) -> tuple[pl.Expr, list[pl.Expr], list[pl.Expr]]:
    """The expressions of `MessageKind.plan`, built once per kind and pattern (building
    them cost more than running them on a small chunk)."""
    present = _group_names(pattern)
    absent = [g for g in _group_names(kind.pattern) if g not in present]
    return (
        pl.col(MSG).str.extract_groups(f"^(?P<{MATCHED}>){pattern}").alias("_g"),
        [pl.lit(None, dtype=pl.String).alias(g) for g in absent],
        [
            pl.col(ROW),
            pl.col(MATCHED).is_not_null().alias(_HIT),
            _constant(kind.action).alias(F.EVENT_ACTION),
            _constant(kind.outcome).alias(F.EVENT_OUTCOME),
            _constant(kind.category).alias(F.EVENT_CATEGORY),
            *(expr.alias(name) for name, expr in kind.fields.items()),
        ],
    )


def extract_kinds(work: Sequence[tuple[MessageKind, pl.LazyFrame]]) -> list[pl.DataFrame]:
    """Each kind's fields for the rows it matches among its rows (`_row`, `_msg`).

    All kinds run in one `collect_all` (one call's cost, side by side on the cores),
    first with their `fast` pattern; the rows it missed (few) then take the lenient
    `pattern` in a second one."""
    first = pl.collect_all(
        [kind.plan(rows, kind.fast or kind.pattern) for kind, rows in work],
        engine=ENGINE,
        optimizations=_FLAGS,
    )
    found: list[pl.DataFrame] = []
    retry: list[tuple[int, pl.LazyFrame]] = []
    for i, ((kind, rows), got) in enumerate(zip(work, first, strict=True)):
        hit = got.get_column(_HIT)
        if hit.all():
            found.append(got.drop(_HIT))
            continue
        found.append(got.filter(hit).drop(_HIT))
        if kind.fast is not None:
            missed = got.filter(~hit).select(ROW)
            retry.append((i, rows.join(missed.lazy(), on=ROW, how="semi")))
    if retry:
        second = pl.collect_all(
            [work[i][0].plan(rows, work[i][0].pattern) for i, rows in retry],
            engine=ENGINE,
            optimizations=_FLAGS,
        )
        for (i, _), got in zip(retry, second, strict=True):
            found[i] = pl.concat([found[i], got.filter(got.get_column(_HIT)).drop(_HIT)])
    return found


class KindTable:
    """Classifies messages into kinds and applies each kind's regex to its rows."""

    def __init__(self, kinds: Sequence[MessageKind]) -> None:
        self.kinds = {kind.name: kind for kind in kinds}
        self._by_literal: dict[str, str] = {}
        self._catch_all: dict[str, str] = {}
        self._anywhere = [kind for kind in kinds if kind.anywhere]
        self._kind_list = list(self.kinds.values())
        self._code_of = {name: code for code, name in enumerate(self.kinds)}
        for kind in kinds:
            for literal in kind.starts:
                if literal == "":
                    self._catch_all.update(dict.fromkeys(kind.programs, kind.name))
                    continue
                prefixes: tuple[str, ...] = ("", "error: ", "fatal: ")
                if not kind.programs:
                    prefixes += tuple(f"pam_unix({service}): " for service in COMMON_PAM)
                for prefix in prefixes:
                    if self._by_literal.setdefault(prefix + literal, kind.name) != kind.name:
                        raise ValueError(f"two message kinds start with {literal!r}")
        # Whole-match extraction (group 0) skips the capture engine: 2x faster than a
        # group, so the optional prefixes are spelled out as literals instead.
        literals = {s.removeprefix("error: ").removeprefix("fatal: ") for s in self._by_literal}
        self._classifier = _alternation(_OPTIONAL_PREFIX, [*literals, _PAM_PREFIX])
        pam = {s for kind in kinds if not kind.programs for s in kind.starts if s}
        self._pam_classifier = _alternation(_PAM_KIND_START, pam)
        self._catch_all_codes = {self._code_of[name] for name in self._catch_all.values()}
        # Literal -> kind code, as the two Series `replace_strict` takes (a dict would be
        # converted on every call).
        self._literal_codes = (
            pl.Series(list(self._by_literal), dtype=pl.String),
            pl.Series([self._code_of[name] for name in self._by_literal.values()], dtype=pl.UInt32),
        )

    def classify(self, messages: pl.Series) -> pl.Series:
        """The kind each message's start names (whatever program wrote it), as an
        index into `_kind_list`; `len(_kind_list)` for none."""
        literal = messages.str.extract(self._classifier, 0)
        pam = (literal == _PAM_PREFIX).fill_null(False)
        if pam.any():
            # Second step for the rarer `pam_unix(service:type): text`, on its rows only:
            # an optional prefix with a variable part would make the first regex slower.
            where = pam.arg_true()
            inner = messages.gather(where).str.extract(self._pam_classifier, 0)
            literal = literal.scatter(where, inner.str.splitn("): ", 2).struct.field("field_1"))
        old, new = self._literal_codes
        return literal.replace_strict(
            old, new, default=len(self._kind_list), return_dtype=pl.UInt32
        )

    def fields(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The kind fields of `frame`'s rows (`_row`, `_msg`, `process.name`) that match
        a kind, with their `_row`, in no particular order.

        A kind only takes the rows of its programs; the other rows of a program with a
        catch-all kind (sudo, kernel) go to that kind, and the rest to the `anywhere`
        kinds whose literals they hold. Each kind's rows are one slice of the rows sorted
        by kind (no copy per kind); all kinds are read together (`extract_kinds`)."""
        kind = self._assign(frame)
        work = frame.select(ROW, MSG).with_columns(kind.alias(KIND))
        # Kinds in order of first appearance, catch-all kinds after the others, so the
        # columns they add come in that order whatever the chunk.
        first_seen = kind.drop_nulls().unique(maintain_order=True).to_list()
        order = sorted(first_seen, key=lambda code: code in self._catch_all_codes)
        claimed = work.filter(pl.col(KIND) < len(self._kind_list)).sort(KIND, maintain_order=True)
        rows = claimed.lazy()
        todo: list[tuple[MessageKind, pl.LazyFrame]] = []
        codes: list[int] = []
        offset = 0
        for run in claimed.get_column(KIND).rle().to_list():
            codes.append(run["value"])
            todo.append((self._kind_list[run["value"]], rows.slice(offset, run["len"])))
            offset += run["len"]
        if _ANYWHERE in first_seen:
            unclaimed = work.lazy().filter(pl.col(KIND) == _ANYWHERE)
            for anywhere in self._anywhere:
                present = pl.all_horizontal(
                    pl.col(MSG).str.contains(literal, literal=True) for literal in anywhere.anywhere
                )
                todo.append((anywhere, unclaimed.filter(present)))
        extracted = extract_kinds(todo)
        parts = dict(zip(codes, extracted, strict=False))
        # The anywhere kinds' parts come last (a row two of them read keeps the last).
        found = [parts[code] for code in order if code in parts] + extracted[len(codes) :]
        found = [part for part in found if part.height]
        if not found:
            return frame.select(ROW).clear()
        return pl.concat(found, how="diagonal_relaxed")

    def _assign(self, frame: pl.DataFrame) -> pl.Series:
        """Each row's kind as an index into `_kind_list`, `_ANYWHERE`, or null: the kind
        its start names when its program is one of that kind's, else its program's
        catch-all kind, else the `anywhere` kinds (if any) look at it."""
        literal_code = self.classify(frame.get_column(MSG))
        program = frame.get_column(F.PROCESS_NAME)
        # A chunk holds a handful of programs: the decision is taken in Python once per
        # (kind, program) pair present, then applied to the rows by a lookup.
        programs = program.drop_nulls().unique().to_list()
        program_code = program.replace_strict(
            programs, range(len(programs)), default=len(programs), return_dtype=pl.UInt32
        )
        stride = len(programs) + 1
        pair = literal_code * stride + program_code
        decisions: dict[int, int | None] = {}
        for code in pair.unique().to_list():
            name = programs[code % stride] if code % stride < len(programs) else None
            decisions[code] = self._decide(code // stride, name)
        return pair.replace_strict(decisions, default=None, return_dtype=pl.UInt32)

    def _decide(self, literal_code: int, program: str | None) -> int | None:
        if literal_code < len(self._kind_list):
            kind = self._kind_list[literal_code]
            if not kind.programs or program in kind.programs:
                return literal_code
        if program is not None and program in self._catch_all:
            return self._code_of[self._catch_all[program]]
        return _ANYWHERE if self._anywhere else None

    def patterns(self) -> dict[str, str]:
        """Each kind's pattern, as it appears inside a whole log line."""
        return {name: kind.pattern for name, kind in self.kinds.items()}


@functools.cache
def _group_names(pattern: str) -> list[str]:
    return re.findall(r"\(\?P<(\w+)>", pattern)


def _alternation(start: str, literals: set[str] | list[str]) -> str:
    ordered = sorted(set(literals), key=len, reverse=True)
    return start + "|".join(map(re.escape, ordered)) + ")"


def _constant(value: str | pl.Expr | None) -> pl.Expr:
    return value if isinstance(value, pl.Expr) else pl.lit(value, dtype=pl.String)


def port(group: str) -> pl.Expr:
    """A port group as Int32, null when absent or out of range."""
    value = pl.col(group).cast(pl.Int32, strict=False)
    return pl.when(value <= 65535).then(value)


def address(group: str) -> pl.Expr:
    """A group that should hold an IP address: the address, or null when it does not.
    Patterns capture addresses loosely (`[^ ]+`), which keeps them one-pass."""
    return pl.when(pl.col(group).str.contains(_IS_IP)).then(pl.col(group))


def domain(group: str) -> pl.Expr:
    """The host name in a group that holds an address or a host name."""
    value = pl.col(group)
    return pl.when(~value.str.contains(_IS_IP) & (value != "")).then(value)
