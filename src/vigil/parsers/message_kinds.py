"""Turning syslog message bodies into event fields, one message shape ("kind") at a time.

A line's kind is found cheaply: one regex over the column picks the literal the message
starts with (`Failed `, `Invalid user `, `pam_unix(...): session opened`), and the
program that wrote it must be one the kind belongs to. Then each kind's own regex runs
only over its own rows (filter, extract, combine), never over every row. A message whose
kind regex does not match keeps its syslog fields and becomes a plain event.

Speed: a capturing regex is 2-3x faster when it is one-pass (at every character the
next step is certain: no `.*?`, no optional part that could also be the next token), so
the common kinds carry a `fast` one-pass pattern tried first, and the lenient `pattern`
only sees the rows the fast one missed (user names with spaces, odd suffixes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from vigil.parsers.base import IP
from vigil.schema.fields import F

MSG = "_msg"
KIND = "_kind"
ROW = "_row"
# Set on every row a kind regex matched (its pattern starts with an empty group of
# this name), because a non-matching row gives all-null groups, like an optional one.
MATCHED = "matched"
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
        return self.plan(rows.lazy()).collect()

    def plan(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """`extract` as a lazy query, so many kinds run in one `collect_all`."""
        groups = _group_names(self.pattern)
        found: list[pl.LazyFrame] = []
        for pattern in (self.fast, self.pattern):
            if pattern is None:
                continue
            extracted = _groups(rows, pattern)
            hit = pl.col(MATCHED).is_not_null()
            missing = [g for g in groups if g not in _group_names(pattern)]
            found.append(
                extracted.filter(hit).with_columns(
                    pl.lit(None, dtype=pl.String).alias(g) for g in missing
                )
            )
            rows = extracted.filter(~hit).select(ROW, MSG)
        matched = pl.concat(found, how="diagonal_relaxed") if len(found) > 1 else found[0]
        return matched.select(
            pl.col(ROW),
            _constant(self.action).alias(F.EVENT_ACTION),
            _constant(self.outcome).alias(F.EVENT_OUTCOME),
            _constant(self.category).alias(F.EVENT_CATEGORY),
            *(expr.alias(name) for name, expr in self.fields.items()),
        )


class KindTable:
    """Classifies messages into kinds and applies each kind's regex to its rows."""

    def __init__(self, kinds: Sequence[MessageKind]) -> None:
        self.kinds = {kind.name: kind for kind in kinds}
        self._by_literal: dict[str, str] = {}
        self._catch_all: dict[str, str] = {}
        self._anywhere = [kind for kind in kinds if kind.anywhere]
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

    def classify(self, messages: pl.Series) -> pl.Series:
        """The kind each message's start names (whatever program wrote it), or null."""
        literal = (
            pl.LazyFrame({MSG: messages})
            .select(pl.col(MSG).str.extract(self._classifier, 0))
            .collect()
            .to_series()
        )
        pam = (literal == _PAM_PREFIX).fill_null(False)
        if pam.any():
            # Second step for the rarer `pam_unix(service:type): text`, on its rows only:
            # an optional prefix with a variable part would make the first regex slower.
            where = pam.arg_true()
            inner = messages.gather(where).str.extract(self._pam_classifier, 0)
            literal = literal.scatter(where, inner.str.splitn("): ", 2).struct.field("field_1"))
        return literal.replace_strict(self._by_literal, default=None, return_dtype=pl.String)

    def fields(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The kind fields of `frame`'s rows (`_row`, `_msg`, `process.name`) that match
        a kind, with their `_row`, in no particular order.

        A kind only takes the rows of its programs; the other rows of a program with a
        catch-all kind (sudo, kernel) go to that kind."""
        work = frame.select(ROW, MSG, F.PROCESS_NAME).with_columns(
            self.classify(frame.get_column(MSG)).alias(KIND)
        )
        plans: list[pl.LazyFrame] = []
        spare: list[pl.DataFrame] = []
        for (name,), rows in work.partition_by(KIND, as_dict=True, include_key=False).items():
            kind = self.kinds.get(name) if isinstance(name, str) else None
            if kind is None:
                spare.append(rows)
                continue
            if kind.programs:
                mine = rows.get_column(F.PROCESS_NAME).is_in(sorted(kind.programs))
                spare.append(rows.filter(~mine.fill_null(False)))
                rows = rows.filter(mine.fill_null(False))  # noqa: PLW2901 - its own rows
            plans.append(kind.plan(rows.lazy()))
        rest = pl.concat([work.clear().drop(KIND), *spare])
        caught = pl.col(F.PROCESS_NAME).is_in(sorted(self._catch_all)).fill_null(False)
        catch_all = rest.filter(caught)
        for (program,), rows in catch_all.partition_by(F.PROCESS_NAME, as_dict=True).items():
            plans.append(self.kinds[self._catch_all[str(program)]].plan(rows.lazy()))
        if self._anywhere:
            unclaimed = rest.filter(~caught)
            for kind in self._anywhere:
                present = pl.all_horizontal(
                    pl.col(MSG).str.contains(literal, literal=True) for literal in kind.anywhere
                )
                plans.append(kind.plan(unclaimed.lazy().filter(present)))
        # One collect for all kinds: polars runs them side by side, with one call's cost.
        found = [part for part in pl.collect_all(plans) if part.height]
        if not found:
            return frame.select(ROW).clear()
        return pl.concat(found, how="diagonal_relaxed")

    def patterns(self) -> dict[str, str]:
        """Each kind's pattern, as it appears inside a whole log line."""
        return {name: kind.pattern for name, kind in self.kinds.items()}


def _groups(rows: pl.LazyFrame, pattern: str) -> pl.LazyFrame:
    anchored = f"^(?P<{MATCHED}>){pattern}"
    extracted = pl.col(MSG).str.extract_groups(anchored).alias("_g")
    return rows.with_columns(extracted).unnest("_g")


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
