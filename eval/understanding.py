"""Parsed, but understood? Checks on the events of lines that did parse.

A syslog-family parser turns every line with a syslog header into an event, so a line
from sshd whose message no rule knows still "parses", without its action, user or
source address, and detection will never see it. These checks count such events:
each names which events it is about and what they must carry. Messages that fail a
check are grouped by shape (numbers and addresses masked), so the report lists the
message kinds a parser lacks, not every line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from eval.manifest import Input
from vigil.schema.fields import F

# The program names OpenSSH logs under (kept here, not imported from a parser module,
# so the check does not move with what it checks).
SSHD_PROGRAMS = ("sshd", "sshd-session", "sshd-auth")
_IPV4 = r"\b\d{1,3}(?:\.\d{1,3}){3}\b"
_IPV6 = r"\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b"
SHAPE_CHARS = 120


@dataclass(frozen=True)
class Check:
    name: str
    # Which events the check is about ...
    about: pl.Expr
    # ... and what each of them must have.
    understood: pl.Expr


CHECKS: tuple[Check, ...] = (
    Check(
        "sshd message has an event.action",
        pl.col(F.PROCESS_NAME).is_in(SSHD_PROGRAMS),
        pl.col(F.EVENT_ACTION).is_not_null(),
    ),
    Check(
        "kernel packet log has source.ip",
        pl.col(F.MESSAGE).str.contains(r"\bSRC=\S+ DST=\S+ "),
        pl.col(F.SOURCE_IP).is_not_null(),
    ),
)


@dataclass
class CheckTally:
    events: int = 0
    missed: int = 0
    # Message shape → count, and the first line of each shape as (line number, message).
    shapes: Counter[str] = field(default_factory=Counter)
    first: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Understanding:
    """A BatchSink that runs the checks over every batch of one input."""

    input: Input
    tallies: dict[str, CheckTally] = field(default_factory=dict)

    def consume(self, batch: pl.DataFrame) -> None:
        for check in CHECKS:
            needed = {*check.about.meta.root_names(), *check.understood.meta.root_names()}
            if not needed.issubset(batch.columns):
                # Columns a batch lacks are null in every row: nothing to check.
                about_cols = set(check.about.meta.root_names())
                if not about_cols.issubset(batch.columns):
                    continue
                batch = batch.with_columns(
                    pl.lit(None).alias(c) for c in needed - set(batch.columns)
                )
            about = batch.filter(check.about.fill_null(False))
            if about.height == 0:
                continue
            tally = self.tallies.setdefault(check.name, CheckTally())
            tally.events += about.height
            missed = about.filter(~check.understood.fill_null(False))
            tally.missed += missed.height
            if missed.height:
                self._shapes(tally, missed)

    def close(self) -> None:
        """Nothing is held back."""

    @staticmethod
    def _shapes(tally: CheckTally, missed: pl.DataFrame) -> None:
        shaped = missed.select(
            pl.col(F.LOG_FILE_LINE),
            pl.col(F.MESSAGE).fill_null(""),
            shape(pl.col(F.MESSAGE).fill_null("")).alias("shape"),
        )
        counts = shaped.group_by("shape").len()
        tally.shapes.update(dict(zip(counts["shape"], counts["len"], strict=True)))
        firsts = shaped.group_by("shape", maintain_order=True).first()
        for row in firsts.iter_rows(named=True):
            tally.first.setdefault(row["shape"], (int(row[F.LOG_FILE_LINE]), row[F.MESSAGE]))


def shape(message: pl.Expr) -> pl.Expr:
    """A message with its variable parts masked: addresses → IP, numbers → N, the word
    after `user` → U."""
    return (
        message.str.replace_all(r"\buser \S*", "user U")
        .str.replace_all(_IPV4, "IP")
        .str.replace_all(_IPV6, "IP")
        .str.replace_all(r"\d+", "N")
        .str.slice(0, SHAPE_CHARS)
    )
