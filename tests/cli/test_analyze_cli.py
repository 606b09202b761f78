"""`vigil analyze` and `vigil formats` as a user runs them: exit codes, JSON, store, rejects."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.errors import ExitCode
from vigil.store.db import SCHEMA_VERSION

FW = (
    "2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22\n"
    "2026-11-23 00:00:02 | 203.0.113.8 | 198.51.100.10 | TCP | ALLOW | 40000 | 443\n"
    "junk\n"
)
runner = CliRunner()


def _fw(tmp_path: Path) -> Path:
    path = tmp_path / "fw.log"
    path.write_text(FW)
    return path


def test_json_document(tmp_path: Path) -> None:
    """--json prints one JSON document with per-file and total figures."""
    result = runner.invoke(app, ["analyze", "--json", str(_fw(tmp_path))])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["events"] == 2 and doc["rejected"] == 1 and doc["lines"] == 3
    assert doc["files"][0]["format"] == "firewall"
    assert doc["top_sources"][0]["events"] == 1


def test_summary_text(tmp_path: Path) -> None:
    """Without --json the summary names the format, the counts and the top sources."""
    result = runner.invoke(app, ["analyze", str(_fw(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "firewall" in result.stdout and "203.0.113.7" in result.stdout
    assert "not a firewall record" in result.stdout


def test_nothing_parsed_exits_65(tmp_path: Path) -> None:
    """When no line of the input parses, the exit code is 65 and stderr says why in one line."""
    path = tmp_path / "prose.txt"
    path.write_text("hello\nworld\n")
    result = runner.invoke(app, ["analyze", "--json", str(path)])
    assert result.exit_code == ExitCode.DATA_ERROR
    assert result.stderr.strip() == "error: no line of the input could be parsed"


def test_missing_file_exits_65(tmp_path: Path) -> None:
    """A path that does not exist is a one-line error naming it."""
    result = runner.invoke(app, ["analyze", str(tmp_path / "nope.log")])
    assert result.exit_code == ExitCode.DATA_ERROR
    assert "nope.log" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """Unknown formats, zones, and malformed --map are usage errors."""
    fw = str(_fw(tmp_path))
    for args in (["--format", "nope"], ["--tz", "Mars/Olympus"], ["--map", "noequals"]):
        result = runner.invoke(app, ["analyze", *args, fw])
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert result.stderr.startswith("error: ")


def test_parser_options_are_checked_before_any_input_is_read(tmp_path: Path) -> None:
    """A misspelt option or a value the parser cannot use is one usage error line naming
    it (not an internal error after the file, not silence)."""
    fw = str(_fw(tmp_path))
    cases = {
        ("-o", "delimeter=;"): "unknown parser option 'delimeter'",
        ("-f", "csv", "-o", "tz=Mars/X"): "unknown time zone 'Mars/X'",
        ("-f", "csv", "-o", "delimiter=;;"): "csv delimiter must be one character",
        ("-f", "firewall", "-o", "tz=UTC"): "this format takes no options",
    }
    for args, message in cases.items():
        result = runner.invoke(app, ["analyze", *args, fw])
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr, args
    # An option some other parser takes is fine when the format is detected.
    assert runner.invoke(app, ["analyze", "-o", "tz=UTC", fw]).exit_code == 0


def test_store_writes_parquet_by_day_and_state_db(tmp_path: Path) -> None:
    """--store keeps events as Parquet partitioned by day and records the run in vigil.db."""
    state = tmp_path / "state"
    result = runner.invoke(
        app, ["--state-dir", str(state), "analyze", "--store", str(_fw(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    days = sorted(p.name for p in (state / "events").iterdir())
    assert days == ["date=2026-11-22", "date=2026-11-23"]
    stored = pl.read_parquet(state / "events" / "*" / "*.parquet")
    assert sorted(stored["source.ip"].to_list()) == ["203.0.113.7", "203.0.113.8"]
    with sqlite3.connect(state / "vigil.db") as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT lines, events, rejected FROM runs").fetchall() == [(3, 2, 1)]


def test_rejects_file(tmp_path: Path) -> None:
    """--rejects writes each rejected line as JSON with file, line number and reason."""
    out = tmp_path / "rejects.jsonl"
    result = runner.invoke(app, ["analyze", "--rejects", str(out), str(_fw(tmp_path))])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert row["line"] == 3 and row["reason"] == "not a firewall record" and row["text"] == "junk"


def test_formats_lists_every_parser() -> None:
    """`vigil formats` lists the registered formats."""
    result = runner.invoke(app, ["formats"])
    assert result.exit_code == 0
    assert "firewall" in result.stdout


def test_stdin_through_the_installed_command(tmp_path: Path) -> None:
    """`-` reads stdin; the real entry point runs as a subprocess, without a progress bar."""
    proc = subprocess.run(
        [sys.executable, "-m", "vigil", "analyze", "--json", "-"],
        input=FW.encode(),
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["path"] == "-"
    assert proc.stderr == b""


def test_bad_config_exits_78_with_location(tmp_path: Path) -> None:
    """An invalid vigil.yaml stops the command with exit 78 and the file:line of the problem."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("timezone: UTC\nbogus: 1\n")
    result = runner.invoke(app, ["--config", str(cfg), "analyze", str(_fw(tmp_path))])
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.strip().endswith("vigil.yaml:2:1)")


def test_config_timezone_applies(tmp_path: Path) -> None:
    """`timezone:` in vigil.yaml is the zone of timestamps without one, unless --tz is given."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("timezone: Asia/Tokyo\n")
    fw = str(_fw(tmp_path))
    result = runner.invoke(app, ["--config", str(cfg), "analyze", "--json", fw])
    assert json.loads(result.stdout)["files"][0]["first_event"] == "2026-11-22T01:00:01Z"
    result = runner.invoke(app, ["--config", str(cfg), "analyze", "--json", "--tz", "UTC", fw])
    assert json.loads(result.stdout)["files"][0]["first_event"] == "2026-11-22T10:00:01Z"


def test_suppressions_listed_with_state(tmp_path: Path) -> None:
    """`vigil suppressions` lists each suppression of the config and whether it still applies."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        "suppressions:\n"
        "  - {rule: ssh_*, match: {source.ip: 192.0.2.0/24}, reason: scanner}\n"
        "  - {rule: port_scan, reason: old, expires: 2020-01-01T00:00:00Z}\n"
    )
    result = runner.invoke(app, ["--config", str(cfg), "suppressions", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(d["rule"], d["active"]) for d in doc] == [("ssh_*", True), ("port_scan", False)]
    assert doc[0]["match"] == {"source.ip": "192.0.2.0/24"}


def test_late_events_are_a_warning(tmp_path: Path) -> None:
    """Events too old for their rules' windows when they come are named on stderr, per
    rule, not only counted in --json."""
    path = tmp_path / "fw.log"
    # Two reader blocks of in-order lines, then one line from an hour before them all.
    lines = [
        f"2026-11-22 11:{i // 6000 % 60:02d}:{i // 100 % 60:02d} | 203.0.113.7 | "
        f"198.51.100.10 | TCP | DENY | {40000 + i % 20000} | 22\n"
        for i in range(150_000)
    ]
    lines.append("2026-11-22 10:00:00 | 192.0.2.1 | 198.51.100.10 | TCP | DENY | 40000 | 22\n")
    path.write_text("".join(lines))
    result = runner.invoke(app, ["analyze", "--json", str(path)])
    assert result.exit_code == 0, result.output
    late = json.loads(result.stdout)["detection"]["late_events"]
    assert late and all(n == 1 for n in late.values())
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == len(late)
    assert all("were not counted" in w for w in warnings)


def test_an_unreadable_input_among_good_ones_exits_65(tmp_path: Path) -> None:
    """The readable inputs are analysed and reported; the unreadable one is an error line
    and the exit code is 65, so a cron job learns of it."""
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x00\x00" + bytes(range(256)))
    result = runner.invoke(app, ["analyze", "--json", str(_fw(tmp_path)), str(binary)])
    assert result.exit_code == ExitCode.DATA_ERROR
    assert json.loads(result.stdout)["events"] == 2
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert any("core.bin" in ln and "binary" in ln for ln in errors)
    assert errors[-1] == "error: 1 of 2 inputs could not be read in full"


def test_config_parser_options_are_checked(tmp_path: Path) -> None:
    """A misspelt option under `parsers:` in vigil.yaml is a configuration error (78)."""
    config = tmp_path / "vigil.yaml"
    config.write_text("parsers:\n  csv:\n    options: {delimeter: ';'}\n")
    result = runner.invoke(app, ["--config", str(config), "analyze", str(_fw(tmp_path))])
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "parsers.csv" in result.stderr and "'delimeter'" in result.stderr


def test_an_empty_or_blank_input_is_not_an_error(tmp_path: Path) -> None:
    """A log just rotated (empty, or blank lines only) exits 0: there was nothing to parse,
    which is not a line that failed to parse."""
    empty, blank = tmp_path / "auth.log", tmp_path / "blank.log"
    empty.write_text("")
    blank.write_text("\n  \n")
    for path in (empty, blank):
        result = runner.invoke(app, ["analyze", "--json", str(path)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["events"] == 0


def test_a_date_in_year_9999_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    """The pack's windows never see an event time they cannot add a timespan to."""
    log = tmp_path / "access.log"
    log.write_text(
        '203.0.113.7 - - [31/Dec/9999:23:59:59 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
        '203.0.113.7 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
    )
    result = runner.invoke(app, ["analyze", "--json", str(log)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["events"], doc["rejected"]) == (1, 1)


def test_rejects_file_may_not_be_an_input(tmp_path: Path) -> None:
    """--rejects naming an input (or a file inside an analysed directory) is refused
    before it is opened for writing: the log is left as it was."""
    log = _fw(tmp_path)
    for target in (log, tmp_path / "fw.log"):
        result = runner.invoke(app, ["analyze", "--rejects", str(target), str(tmp_path)])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "is one of the inputs" in result.stderr
    assert log.read_text() == FW
