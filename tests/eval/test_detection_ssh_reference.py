"""The independent ssh_bruteforce reference: what counts as an attempt, and the window."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from eval.detection_ssh_reference import attempts_of, reference, sweep


def _line(when: str, text: str) -> str:
    return f"{when} bastion sshd[42]: {text}"


def _failed(when: str, ip: str, method: str = "password", user: str = "root") -> str:
    return _line(when, f"Failed {method} for {user} from {ip} port 50000 ssh2")


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_five_attempts_exactly_ten_minutes_apart_are_flagged(tmp_path: Path) -> None:
    """Both ends of the 10-minute window are included."""
    times = ["Mar  1 10:00:00", "Mar  1 10:02:00", "Mar  1 10:05:00", "Mar  1 10:08:00"]
    lines = [_failed(t, "203.0.113.7") for t in [*times, "Mar  1 10:10:00"]]
    ref = reference(_write(tmp_path, lines))
    assert ref.flagged == {"203.0.113.7"}
    assert ref.crossings["203.0.113.7"] == datetime(2000, 3, 1, 10, 10)


def test_five_attempts_over_ten_minutes_and_one_second_are_not(tmp_path: Path) -> None:
    """One second past the window and the fifth attempt stands alone."""
    times = ["Mar  1 10:00:00", "Mar  1 10:02:00", "Mar  1 10:05:00", "Mar  1 10:08:00"]
    lines = [_failed(t, "203.0.113.7") for t in [*times, "Mar  1 10:10:01"]]
    ref = reference(_write(tmp_path, lines))
    assert ref.flagged == set()
    assert ref.peaks["203.0.113.7"] == 4


def test_repeated_message_counts_n_and_other_lines_count_nothing(tmp_path: Path) -> None:
    """`message repeated 4 times` is 4 attempts; Invalid user and pam lines are none;
    publickey failures are no attempt."""
    ip = "198.51.100.9"
    lines = [
        _line("Mar  1 10:00:00", f"Invalid user admin from {ip} port 50000"),
        _line("Mar  1 10:00:00", f"pam_unix(sshd:auth): authentication failure; rhost={ip}"),
        _failed("Mar  1 10:00:01", ip, user="invalid user admin"),
        _line(
            "Mar  1 10:00:09",
            f"message repeated 4 times: [ Failed password for root from {ip} port 50000 ssh2]",
        ),
        _failed("Mar  1 10:00:10", "192.0.2.5", method="publickey"),
        _failed("Mar  1 10:00:11", "192.0.2.5", method="publickey"),
    ]
    ref = reference(_write(tmp_path, lines))
    assert ref.totals == {ip: 5}
    assert ref.attempt_lines == 2
    assert ref.flagged == {ip}


def test_a_user_name_cannot_spoof_the_address(tmp_path: Path) -> None:
    """The address is the last `from IP port N`, the one sshd writes after the name."""
    user = "invalid user x from 192.0.2.1 port 1"
    lines = [_failed(f"Mar  1 10:00:0{i}", "203.0.113.50", user=user) for i in range(5)]
    ref = reference(_write(tmp_path, lines))
    assert ref.flagged == {"203.0.113.50"}


def test_ipv6_addresses_are_normalised(tmp_path: Path) -> None:
    """Two spellings of one IPv6 address are one source."""
    lines = [_failed(f"Mar  1 10:00:0{i}", "2001:DB8:0:0::7") for i in range(3)]
    lines += [_failed(f"Mar  1 10:00:1{i}", "2001:db8::7") for i in range(2)]
    assert reference(_write(tmp_path, lines)).flagged == {"2001:db8::7"}


def test_the_year_rolls_over_from_december_to_january() -> None:
    """A January line after a December line is in the next year, so the window spans it."""
    lines = pl.Series(
        [_failed("Dec 31 23:58:00", "203.0.113.7"), _failed("Jan  1 00:01:00", "203.0.113.7")]
    )
    times = attempts_of(lines, year=2026).get_column("t").to_list()
    assert times == [datetime(2026, 12, 31, 23, 58), datetime(2027, 1, 1, 0, 1)]


def test_an_impossible_date_is_counted_undated(tmp_path: Path) -> None:
    """`Feb 30` cannot be placed in time: counted apart, not guessed."""
    ref = reference(_write(tmp_path, [_failed("Feb 30 10:00:00", "203.0.113.7")]))
    assert ref.undated == 1
    assert ref.totals == {}


def test_sweep_reports_the_peak_and_the_first_crossing() -> None:
    """Weighted steps: the crossing is the first step whose window reaches five."""
    t0 = datetime(2026, 3, 1)
    times = [t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=20)]
    assert sweep(times, [2, 3, 1]) == (5, t0 + timedelta(minutes=1))
    assert sweep(times, [1, 1, 1]) == (2, None)
