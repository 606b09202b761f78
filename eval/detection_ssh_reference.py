"""The reference for `ssh_bruteforce`, computed from the raw lines without vigil.

The rule's definition, as the pack states it: an address is flagged when some window of
10 minutes, both ends included, holds at least 5 failed authentication *attempts* from
it. Each `Failed <method> for [invalid user] U from IP port N` line of sshd whose method
is not `publickey` is one attempt; rsyslog's `message repeated N times: [ Failed ... ]`
is N attempts; every other line (`Invalid user`, pam_unix, `Disconnecting`, `maximum
authentication attempts exceeded`, ...) is none.

Independence: this reads the file with plain Python and its own regex (not vigil's
reader, parsers or correlation engine), and decides the windows with a two-pointer
sweep in plain Python over each address's attempts. Only the polars regex engine is
shared with vigil, to pull the fields out of a million lines in a second.

Time: the BSD syslog stamp (`Mmm dd HH:MM:SS`) in UTC; the year is `year` for the first
attempt and goes up by one where the month falls back by six or more (December to
January). Lines without such a stamp cannot be placed in time and are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from eval.detection_run import normalize_ip

THRESHOLD = 5
WINDOW = timedelta(minutes=10)
# A leap year, so that `Feb 29` of a log whose year is unknown stays a valid date.
UNKNOWN_YEAR = 2000

# The user name is matched greedily: a name holding " from X port N" cannot hide the
# real address, which sshd always writes last.
ATTEMPT = (
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>[0-9]{1,2}) (?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}) "
    r"\S+ sshd(?:-session)?\[[0-9]+\]: "
    r"(?:message repeated (?P<times>[0-9]+) times: \[ )?"
    r"Failed (?P<method>\S+) for (?:invalid user )?.* from (?P<ip>\S+) port [0-9]+"
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}


@dataclass
class Reference:
    lines: int = 0
    # Attempt lines (a `message repeated` line is one line here, N attempts below).
    attempt_lines: int = 0
    attempts: int = 0
    # Attempt lines whose stamp is not a date (e.g. `Feb 30`): not placed in time.
    undated: int = 0
    # Per normalised address: total attempts, and the most any window holds.
    totals: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    # Per flagged address: the time of the attempt that first brings a window to the
    # threshold (the year as assumed, see the module doc).
    crossings: dict[str, datetime] = field(default_factory=dict)

    @property
    def flagged(self) -> set[str]:
        return set(self.crossings)


def read_lines(path: Path) -> pl.Series:
    """The file's lines, decoded leniently (a bad byte must not lose its line)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return pl.Series("text", text.splitlines(), dtype=pl.String)


def attempts_of(lines: pl.Series, year: int = UNKNOWN_YEAR) -> pl.DataFrame:
    """One row per attempt line: `ip` (as written), `t` (datetime or null), `n`."""
    found = (
        lines.to_frame("text")
        .select(pl.col("text").str.extract_groups(ATTEMPT).alias("m"))
        .unnest("m")
        .filter(pl.col("ip").is_not_null() & (pl.col("method") != "publickey"))
    )
    month = pl.col("mon").replace_strict(_MONTHS, return_dtype=pl.Int32)
    rollover = (month.diff() <= -6).fill_null(False).cast(pl.Int32).cum_sum()
    stamp = pl.format(
        "{}-{}-{} {}",
        (rollover + year).cast(pl.String),
        month.cast(pl.String).str.zfill(2),
        pl.col("day").str.zfill(2),
        pl.col("time"),
    )
    return found.select(
        "ip",
        stamp.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False).alias("t"),
        pl.col("times").cast(pl.Int64).fill_null(1).alias("n"),
    )


def reference(path: Path, year: int = UNKNOWN_YEAR) -> Reference:
    lines = read_lines(path)
    found = attempts_of(lines, year)
    ref = Reference(lines=lines.len(), attempt_lines=found.height)
    ref.attempts = int(found.get_column("n").sum())
    ref.undated = int(found.get_column("t").null_count())
    # One spelling per address before grouping (`2001:DB8::7` is `2001:db8::7`); the
    # loop is over distinct spellings, not lines.
    written = found.get_column("ip").unique().to_list()
    spelled = {w: normalize_ip(w) for w in written}
    # Attempts of one address in the same second are one step of the sweep.
    per_ip = (
        found.drop_nulls("t")
        .with_columns(pl.col("ip").replace_strict(spelled, return_dtype=pl.String))
        .group_by("ip", "t")
        .agg(pl.col("n").sum())
        .sort("ip", "t")
        .group_by("ip", maintain_order=True)
        .agg("t", "n")
    )
    # The loop is over addresses and their attempts: the reference must not share the
    # engine's vectorised windowing, which it checks.
    for ip, times, counts in per_ip.iter_rows():
        peak, crossing = sweep(times, counts)
        ref.totals[ip] = sum(counts)
        ref.peaks[ip] = peak
        if crossing is not None:
            ref.crossings[ip] = crossing
    return ref


def sweep(times: Iterable[datetime], counts: Iterable[int]) -> tuple[int, datetime | None]:
    """The most attempts any window [t - WINDOW, t] holds, and the first t at which a
    window reaches THRESHOLD. `times` are strictly increasing (one step per second)."""
    ts, ns = list(times), list(counts)
    peak, crossing, total, left = 0, None, 0, 0
    for right, t in enumerate(ts):
        total += ns[right]
        while ts[left] < t - WINDOW:
            total -= ns[left]
            left += 1
        peak = max(peak, total)
        if crossing is None and total >= THRESHOLD:
            crossing = t
    return peak, crossing
