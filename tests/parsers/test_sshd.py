"""The sshd parser: sniffing, chunks, threads, attempt counting, hostile input, analyze."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.samples import SAMPLES, load_sample
from vigil.alerts.gate import AlertGate
from vigil.clock import FixedClock
from vigil.detect.rulepack import load_pack
from vigil.detect.stage import DetectionStage
from vigil.parsers.base import LINE, ParseContext
from vigil.parsers.sshd import SshdParser
from vigil.parsers.syslog import SyslogParser
from vigil.parsers.syslog_fields import SF
from vigil.pipeline.analyze import AnalyzeOptions, analyze, sniff
from vigil.pipeline.chunks import parse_lines
from vigil.schema.batch import conform
from vigil.schema.fields import F

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _frame(lines: list[str], first: int = 1) -> pl.DataFrame:
    numbers = pl.int_range(first, first + len(lines), dtype=pl.UInt64, eager=True)
    return pl.DataFrame({LINE: pl.Series(lines, dtype=pl.String), F.LOG_FILE_LINE: numbers})


def _sample_lines(name: str) -> list[str]:
    return load_sample(SAMPLES / name).lines


def _ctx(**kw: object) -> ParseContext:
    return ParseContext("test", now=NOW, **kw)  # type: ignore[arg-type]


def test_sniff_picks_sshd_for_an_auth_log() -> None:
    """A real auth.log (sshd mixed with sudo, CRON, logind, useradd) comes out as sshd."""
    assert sniff(_sample_lines("sshd/elastic_auth.log"), _ctx()) is SshdParser


def test_sshd_does_not_claim_a_syslog_without_sshd_lines() -> None:
    """Lines from auth programs but none from sshd score 0 for sshd."""
    lines = _sample_lines("sshd/auth_programs.log")
    without_sshd = [ln for ln in lines if " sshd[" not in ln]
    assert SshdParser.sniff(_frame(without_sshd), _ctx()) == 0.0


GENERIC_SYSLOG = [
    "Nov 22 00:00:01 web1 systemd[1]: Starting Daily apt upgrade and clean activities...",
    "Nov 22 00:00:02 web1 systemd[1]: apt-daily-upgrade.service: Succeeded.",
    "Nov 22 00:05:01 web1 CRON[4242]: (root) CMD (command -v debian-sa1 > /dev/null)",
    "Nov 22 00:17:01 web1 CRON[4300]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)",
    "Nov 22 00:20:13 web1 dhclient[612]: DHCPACK of 192.0.2.40 from 192.0.2.1",
    "Nov 22 00:21:00 web1 rsyslogd: rsyslogd was HUPed",
    "Nov 22 00:22:30 web1 kernel: [ 8153.000000] e1000e: eth0 NIC Link is Up",
    "Nov 22 00:23:00 web1 systemd[1]: Started Session 12 of User alice.",
    "Nov 22 00:32:00 web1 sshd[1300]: Accepted publickey for alice from 192.0.2.7 port 50500 ssh2",
    "Nov 22 00:33:00 web1 systemd[1]: Started Session 13 of User alice.",
]


def test_sshd_does_not_claim_a_generic_syslog() -> None:
    """A /var/log/syslog with one sshd line among other programs is syslog's, not sshd's."""
    frame = _frame(GENERIC_SYSLOG)
    assert SshdParser.sniff(frame, _ctx()) == 0.0
    assert sniff(GENERIC_SYSLOG, _ctx()) is SyslogParser


def test_chunks_carry_the_year_roll_over() -> None:
    """One parser over two chunks gives the years one chunk would give."""
    lines = _sample_lines("sshd/years_mtime.log")
    ctx = _ctx(mtime=datetime(2026, 1, 5, 8, tzinfo=UTC))
    whole = parse_lines(SshdParser(ctx), _frame(lines)).events
    parser = SshdParser(ctx)
    first = parse_lines(parser, _frame(lines[:2])).events
    second = parse_lines(parser, _frame(lines[2:], first=3)).events
    assert pl.concat([first, second]).get_column(F.TIMESTAMP).to_list() == (
        whole.get_column(F.TIMESTAMP).to_list()
    )
    assert [t.year for t in whole.get_column(F.TIMESTAMP)] == [2025, 2025, 2026, 2025, 2026, 2026]


def test_brute_force_attempts_are_countable_by_fields() -> None:
    """Attempts = failed logins whose method is not publickey, weighted by event.count;
    invalid-user, PAM and max-tries lines are distinguishable and add none."""
    events = conform(
        parse_lines(
            SshdParser(_ctx(year=2017)), _frame(_sample_lines("sshd/elastic_auth.log"))
        ).events
    )
    failed = (pl.col(F.EVENT_ACTION) == "ssh_login") & (pl.col(F.EVENT_OUTCOME) == "failure")
    attempts = events.filter(failed & (pl.col(SF.SSH_AUTH_METHOD) != "publickey"))
    # `Failed password for invalid user pi`, `Failed password for root`, and
    # `message repeated 5 times: [ Failed password for root ...]`.
    assert attempts.get_column(F.EVENT_COUNT).sum() == 7
    assert attempts.height == 3
    not_attempts = {"ssh_invalid_user", "pam_auth_failure", "ssh_max_auth_tries"}
    assert not_attempts <= set(events.get_column(F.EVENT_ACTION).drop_nulls())


def test_hostile_lines_are_rejects_with_reasons_not_errors() -> None:
    """Binary, truncated, huge and empty-message lines never raise; every line is an
    event or a reject with a reason."""
    lines = [
        "\x00\x01\x02\ufffd\ufffd",
        "Nov 22 10:00:01 host sshd[1]: " + "A" * 200_000,
        "Nov 22 10:00:01 host sshd[1]: ",
        "Nov 22 10:00:01 host sshd[1]:",
        "Nov 22 10:00:01",
        "Nov 22 10:00:01 host sshd[99999999999999999999]: Failed password for x from 1.2.3.4",
        "Nov 22 10:00:01 host sshd[1]: Failed password for root from 192.0.2.1 port 99999 ssh2",
        "Nov 22 10:00:01 host sshd[1]: message repeated 0 times: [ Failed password]",
        "Nov 22 10:00:01 host sshd[1]: message repeated 99999999999 times: [ x]",
        "<999>Nov 22 10:00:01 host sshd[1]: priority out of range",
    ]
    result = parse_lines(SshdParser(_ctx(year=2026)), _frame(lines))
    assert result.events.height + result.rejects.height == len(lines)
    assert result.rejects.get_column("reason").is_not_null().all()
    batch = conform(result.events)
    events = {row[F.LOG_FILE_LINE]: row for row in batch.iter_rows(named=True)}
    assert events[7][F.SOURCE_PORT] is None
    assert events[7][F.EVENT_ACTION] == "ssh_login"
    assert events[8][F.EVENT_COUNT] == 1
    assert events[8][F.MESSAGE] == "message repeated 0 times: [ Failed password]"
    assert (events[9][F.EVENT_COUNT], events[9][F.MESSAGE]) == (2**32 - 1, "x")
    assert events[10][F.LOG_SYSLOG_PRIORITY] is None
    assert events[6][F.PROCESS_PID] is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=20))
def test_any_text_parses_without_error(lines: list[str]) -> None:
    """Whatever the text, parsing gives events plus rejects for every line."""
    lines = [ln.replace("\n", " ").replace("\r", " ") or " " for ln in lines]
    lines = ["Nov 22 10:00:01 host sshd[1]: " + ln if i % 2 else ln for i, ln in enumerate(lines)]
    result = parse_lines(SshdParser(_ctx(year=2026)), _frame(lines))
    assert result.events.height + result.rejects.height == len(lines)


def test_empty_frame_gives_nothing() -> None:
    """No lines, no events, no rejects, no error."""
    result = SshdParser(_ctx()).parse(_frame([]))
    assert result.events.height == 0
    assert result.rejects.height == 0


def _write_auth_log(tmp_path: Path, mtime: datetime) -> Path:
    path = tmp_path / "auth.log"
    path.write_text(
        "\n".join(_sample_lines("sshd/years_mtime.log") + _sample_lines("sshd/openssh.log")) + "\n",
        encoding="utf-8",
    )
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_analyze_infers_years_from_the_file_mtime(tmp_path: Path) -> None:
    """`vigil analyze` on an auth.log: format sshd, years from the mtime, roll-over kept."""
    path = _write_auth_log(tmp_path, datetime(2026, 1, 5, 8, tzinfo=UTC))
    report = analyze([str(path)], AnalyzeOptions(clock=FixedClock(NOW)))
    (file_report,) = report.files
    assert file_report.format == "sshd"
    assert file_report.rejected == 0
    assert file_report.first_event is not None
    assert file_report.first_event.year == 2025
    assert file_report.last_event is not None
    assert file_report.last_event.year == 2026
    assert report.tally.actions["ssh_login"] > 0


def test_analyze_year_and_tz_options(tmp_path: Path) -> None:
    """--year sets the first line's year and --tz the zone of times without offset."""
    path = tmp_path / "auth.log"
    path.write_text(
        "Nov 22 10:00:01 gate sshd[1]: Invalid user a from 192.0.2.1\n", encoding="utf-8"
    )
    options = AnalyzeOptions(year=2019, tz="Asia/Tokyo", clock=FixedClock(NOW))
    report = analyze([str(path)], options)
    assert report.files[0].first_event == datetime(2019, 11, 22, 1, 0, 1, tzinfo=UTC)


def test_a_repeat_count_past_uint32_is_held_at_its_largest_and_counted_whole(
    tmp_path: Path,
) -> None:
    """`message repeated 99999999999 times` keeps its failures (at 2^32 - 1), and the
    run's event total does not wrap around."""
    log = tmp_path / "auth.log"
    log.write_text(
        "Nov 22 10:00:00 gate sshd[1]: Failed password for root from 203.0.113.7 port 22 ssh2\n"
        "Nov 22 10:00:01 gate sshd[1]: message repeated 99999999999 times: [ Failed password"
        " for root from 203.0.113.7 port 22 ssh2]\n"
    )
    report = analyze([str(log)], AnalyzeOptions(year=2026))
    assert report.events == 2**32
    assert report.tally.actions["ssh_login"] == 2**32


class _Keep:
    def __init__(self) -> None:
        self.batches: list[pl.DataFrame] = []

    def consume(self, batch: pl.DataFrame) -> None:
        self.batches.append(batch)

    def close(self) -> None:
        """Nothing held."""


def test_a_user_name_holding_an_address_does_not_choose_the_address_blamed(
    tmp_path: Path,
) -> None:
    """User names that end in ` from ADDR port N ssh2` (the adversarial review's
    reproducer): the events and the brute-force alerts name the real clients only."""
    injected = {
        "203.0.113.66": "Failed password for invalid user x from 198.51.100.77 port 22 ssh2",
        "203.0.113.67": "Invalid user x from 198.51.100.78 port 22",
        "203.0.113.68": "Failed password for x from 198.51.100.79 port 22 ssh2",
    }
    lines = [
        f"Nov 22 10:0{block}:0{i} gate sshd[{100 * block + i}]: {message} from {client}"
        f" port {55550 + i}{' ssh2' if message.endswith('ssh2') else ''}"
        for block, (client, message) in enumerate(injected.items())
        for i in range(6)
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clock = FixedClock(NOW)
    stage = DetectionStage(load_pack([]), AlertGate(clock), clock)
    kept = _Keep()
    analyze([str(log)], AnalyzeOptions(year=2026, clock=clock), sinks=[stage, kept])
    stage.close()
    events = pl.concat(kept.batches)
    assert set(events.get_column(F.SOURCE_IP)) == set(injected)
    brute = {a.entity[F.SOURCE_IP] for a in stage.alerts if a.rule_name == "ssh_bruteforce"}
    assert brute == {"203.0.113.66", "203.0.113.68"}
    assert all("198.51.100." not in str(value) for a in stage.alerts for value in a.entity.values())
