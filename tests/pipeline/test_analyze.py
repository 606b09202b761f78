"""The analyze pipeline: format detection, accounting of every line, rejects, sinks."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipeline.support import CollectSink
from vigil.errors import UsageError
from vigil.parsers.firewall import FirewallParser
from vigil.parsers.registry import PARSERS
from vigil.pipeline.analyze import AnalyzeOptions, _block_bytes, analyze
from vigil.pipeline.chunks import UNKNOWN_FORMAT
from vigil.pipeline.sinks import RejectWriter
from vigil.schema.fields import CORE_FIELDS, F

FW = (
    "2026-11-22 10:00:01 | 203.0.113.7 | 198.51.100.10 | TCP | DENY | 51515 | 22\n"
    "2026-11-22 10:00:02 | 203.0.113.8 | 198.51.100.10 | TCP | ALLOW | 40000 | 443\n"
)


def _accounted(report_file: object) -> bool:
    f = report_file
    return f.lines == f.parsed + f.rejected + f.skipped  # type: ignore[attr-defined]


def test_detects_format_and_feeds_sinks(tmp_path: Path) -> None:
    """A firewall log is recognised, its events conform to the schema and reach every sink."""
    path = tmp_path / "fw.log"
    path.write_text("time | src | dst | proto | action | sport | dport\n" + FW + "\n")
    sink = CollectSink()
    report = analyze([str(path)], AnalyzeOptions(), sinks=[sink])
    (f,) = report.files
    assert (f.format, f.lines, f.events, f.rejected, f.skipped) == ("firewall", 4, 2, 0, 2)
    assert sink.closed
    batch = pl.concat(sink.batches)
    assert list(batch.columns[: len(CORE_FIELDS)]) == list(CORE_FIELDS)
    assert batch[F.LOG_FILE_PATH].to_list() == [str(path)] * 2
    assert batch[F.LOG_FILE_LINE].to_list() == [2, 3]
    assert report.tally.sources == {"203.0.113.7": 1, "203.0.113.8": 1}


def test_rejects_written_with_file_line_reason(tmp_path: Path) -> None:
    """Every rejected line is written with its file, line number, reason and text."""
    path = tmp_path / "fw.log"
    path.write_text(FW + "not a record\n" + FW)
    out = BytesIO()
    report = analyze([str(path)], AnalyzeOptions(), rejects=RejectWriter(out))
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert rows == [
        {"file": str(path), "line": 3, "reason": "not a firewall record", "text": "not a record"}
    ]
    assert report.files[0].reject_reasons == {"not a firewall record": 1}


def test_unknown_format_rejects_every_line(tmp_path: Path) -> None:
    """A file no parser recognises has all its lines rejected, with the reason, not dropped."""
    path = tmp_path / "prose.txt"
    path.write_text("Once upon a time\nthere was a log\n")
    (f,) = analyze([str(path)], AnalyzeOptions()).files
    assert f.format is None
    assert f.rejected == 2
    assert f.reject_reasons == {UNKNOWN_FORMAT: 2}


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    """A binary input is reported as an error and the next input is still analysed."""
    binary = tmp_path / "a.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    good = tmp_path / "b.log"
    good.write_bytes(gzip.compress(FW.encode()))
    errors: list[str] = []
    report = analyze([str(binary), str(good)], AnalyzeOptions(), on_error=errors.append)
    assert report.files[0].error is not None and "binary" in report.files[0].error
    assert report.files[1].events == 2
    assert report.files[1].compression == "gzip"
    assert len(errors) == 1


def test_unknown_forced_format(tmp_path: Path) -> None:
    """--format with a name vigil does not know is a usage error listing the known ones."""
    with pytest.raises(UsageError, match=r"unknown format 'nope'; known formats: .*firewall"):
        analyze([str(tmp_path)], AnalyzeOptions(format="nope"))


def test_json_document_shape(tmp_path: Path) -> None:
    """The JSON document has the promised keys per file and in total."""
    path = tmp_path / "fw.log"
    path.write_text(FW)
    doc = analyze([str(path)], AnalyzeOptions()).to_json()
    assert {"files", "events", "rejected", "lines"} <= doc.keys()
    assert {"path", "format", "lines", "events", "rejected"} <= doc["files"][0].keys()
    json.dumps(doc)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000), fmt=st.sampled_from([None, *sorted(PARSERS)]))
def test_arbitrary_bytes_never_raise_and_every_line_is_accounted(
    tmp_path: Path, data: bytes, fmt: str | None
) -> None:
    """Whatever the bytes and the format, analyze does not raise and loses no line."""
    path = tmp_path / "fuzz.log"
    path.write_bytes(data)
    errors: list[str] = []
    report = analyze(
        [str(path)], AnalyzeOptions(format=fmt, block_bytes=256), on_error=errors.append
    )
    (f,) = report.files
    assert f.error is not None or _accounted(f)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.text(max_size=200), max_size=30), fmt=st.sampled_from(sorted(PARSERS)))
def test_arbitrary_text_lines_are_accounted(tmp_path: Path, lines: list[str], fmt: str) -> None:
    """Arbitrary unicode lines (no NUL) are each an event, a reject or a skip."""
    text = "\n".join(line.replace("\x00", "") for line in lines)
    path = tmp_path / "fuzz.log"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    (f,) = analyze([str(path)], AnalyzeOptions(format=fmt)).files
    assert f.error is None
    assert _accounted(f)


@pytest.mark.parametrize("fmt", ["firewall", "apache"])
def test_parallel_parsing_gives_the_sequential_result(tmp_path: Path, fmt: str) -> None:
    """Parsing chunks on worker threads yields the same batches, in line order, and
    the same counts and rejects as parsing them one by one."""
    good = {
        "firewall": "2026-11-22 10:00:{s:02d} | 203.0.113.{n} | 198.51.100.1 | TCP | DENY | 9 | 22",
        "apache": '203.0.113.{n} - - [22/Nov/2026:10:00:{s:02d} +0000] "GET /{n} HTTP/1.1" 404 1',
    }[fmt]
    lines = [good.format(n=i % 250, s=i % 60) if i % 7 else f"junk {i}" for i in range(1, 600)]
    lines[100] = ""
    path = tmp_path / "in.log"
    path.write_text("\n".join(lines) + "\n")

    def run(workers: int) -> tuple[pl.DataFrame, tuple[int, ...], bytes]:
        sink, out = CollectSink(), BytesIO()
        options = AnalyzeOptions(format=fmt, block_bytes=997, parse_workers=workers)
        report = analyze([str(path)], options, sinks=[sink], rejects=RejectWriter(out))
        f = report.files[0]
        counts = (f.lines, f.parsed, f.events, f.rejected, f.skipped, len(sink.batches))
        return pl.concat(sink.batches), counts, out.getvalue()

    inline, threaded = run(0), run(2)
    assert inline[1][-1] > 10  # many chunks
    assert inline[0].equals(threaded[0])
    assert inline[0][F.LOG_FILE_LINE].is_sorted()
    assert inline[1:] == threaded[1:]


def test_a_parse_error_on_a_worker_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception raised while a worker thread parses a chunk reaches the caller, as
    the input's error."""
    path = tmp_path / "fw.log"
    path.write_text(FW * 50)

    def broken(self: object, frame: pl.DataFrame) -> object:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(PARSERS["firewall"], "parse", broken)
    opts = AnalyzeOptions(format="firewall", block_bytes=512, parse_workers=2)
    (f,) = analyze([str(path)], opts).files
    assert f.error is not None
    assert "RuntimeError: parser bug" in f.error


def test_stateful_parser_gets_its_chunks_one_at_a_time_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser that carries state across chunks (sshd: the year) has the stateful part
    of its work (`finish`) given one chunk at a time in line order, on a thread of its
    own beside the rest (`prepare`), and yields what an inline run yields (December
    rolling over into January across chunks)."""
    days = [("Dec", 30), ("Dec", 31), ("Jan", 1), ("Jan", 2)]
    lines = [
        f"{month} {day:2d} 10:00:{i % 60:02d} host sshd[{i}]: Failed password for root "
        f"from 203.0.113.{i % 250} port {1000 + i} ssh2"
        for month, day in days
        for i in range(150)
    ]
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n")
    prepare, finish = PARSERS["sshd"].prepare, PARSERS["sshd"].finish
    busy = {"prepare": 0, "finish": 0}
    most = {"prepare": 0, "finish": 0}
    threads: dict[str, set[str]] = {"prepare": set(), "finish": set()}
    seen: list[int] = []

    def watch(step: str, call: Callable[[], Any]) -> Any:
        busy[step] += 1
        most[step] = max(most[step], busy[step])
        threads[step].add(threading.current_thread().name)
        time.sleep(0.005)  # a window in which a second concurrent call would show
        busy[step] -= 1
        return call()

    def watched_prepare(self: Any, frame: pl.DataFrame) -> Any:
        return watch("prepare", lambda: prepare(self, frame))

    def watched_finish(self: Any, prepared: Any) -> Any:
        seen.append(int(prepared.events[F.LOG_FILE_LINE][0]))
        return watch("finish", lambda: finish(self, prepared))

    def run(workers: int) -> pl.DataFrame:
        sink = CollectSink()
        options = AnalyzeOptions(format="sshd", year=2025, block_bytes=2048, parse_workers=workers)
        analyze([str(path)], options, sinks=[sink])
        return pl.concat(sink.batches, how="diagonal_relaxed")

    inline = run(0)
    monkeypatch.setattr(PARSERS["sshd"], "prepare", watched_prepare)
    monkeypatch.setattr(PARSERS["sshd"], "finish", watched_finish)
    threaded = run(2)
    assert len(seen) > 10
    assert most["finish"] == 1
    assert len(threads["finish"]) == 1
    assert not threads["finish"] & threads["prepare"]
    assert seen == sorted(seen)
    assert inline.equals(threaded)
    years = inline[F.TIMESTAMP].dt.year()
    assert (years.head(300).unique().to_list(), years.tail(300).unique().to_list()) == (
        [2025],
        [2026],
    )


def _auth_log(tmp_path: Path, template: str, n: int) -> Path:
    """An auth.log of `n` lines from `template` (fields: s second, i pid, a address byte,
    p port), each line a different pid and port."""
    path = tmp_path / "auth.log"
    lines = [template.format(s=i % 60, i=i, a=i % 250, p=1000 + i) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_next_chunk_is_parsed_while_the_sinks_take_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the sinks handle a chunk's events, the next chunk is already being parsed,
    for a parser with in-order work too (its `finish`)."""
    path = _auth_log(
        tmp_path,
        "Nov 22 10:00:{s:02d} host sshd[{i}]: Failed password for root "
        "from 203.0.113.{a} port {p} ssh2",
        400,
    )
    prepare = PARSERS["sshd"].prepare
    second = threading.Event()
    calls: list[int] = []

    def counted(self: Any, frame: pl.DataFrame) -> Any:
        calls.append(frame.height)
        if len(calls) == 2:
            second.set()
        return prepare(self, frame)

    class Waiting(CollectSink):
        overlapped = False

        def consume(self, batch: pl.DataFrame) -> None:
            if not self.batches:
                self.overlapped = second.wait(timeout=10)
            super().consume(batch)

    monkeypatch.setattr(PARSERS["sshd"], "prepare", counted)
    sink = Waiting()
    options = AnalyzeOptions(format="sshd", year=2025, block_bytes=4096, parse_workers=2)
    analyze([str(path)], options, sinks=[sink])
    assert len(sink.batches) > 2
    assert sink.overlapped


def test_parser_caps_the_block_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser's largest block size wins over a larger reader default; a smaller one
    asked for in the options stays."""
    path = _auth_log(
        tmp_path,
        "Nov 22 10:00:{s:02d} host sshd[{i}]: Connection closed by 203.0.113.{a} "
        "port {p} [preauth]",
        300,
    )

    def chunks(block_bytes: int) -> int:
        sink = CollectSink()
        options = AnalyzeOptions(format="sshd", year=2025, block_bytes=block_bytes)
        analyze([str(path)], options, sinks=[sink])
        assert sum(b.height for b in sink.batches) == 300
        return len(sink.batches)

    monkeypatch.setattr(PARSERS["sshd"], "max_block_bytes", 4096)
    assert chunks(1 << 20) == chunks(4096) > 3
    assert chunks(2048) > chunks(4096)


def test_chunks_read_before_a_read_failure_count_with_workers(tmp_path: Path) -> None:
    """When a compressed file turns out truncated, the chunks read before the failure are
    counted the same with parsing threads as without, and the error is reported."""
    path = tmp_path / "fw.log.gz"
    text = "".join(
        f"2026-11-22 10:00:01 | 203.0.113.{i % 250} | 198.51.100.1 | TCP | DENY | "
        f"{i * 7919 % 65536} | 22\n"
        for i in range(20_000)
    )
    packed = gzip.compress(text.encode())
    path.write_bytes(packed[: len(packed) // 2])

    def run(workers: int) -> tuple[int, int, str | None]:
        options = AnalyzeOptions(format="firewall", block_bytes=4096, parse_workers=workers)
        f = analyze([str(path)], options, on_error=lambda _: None).files[0]
        assert _accounted(f)
        return f.lines, f.parsed, f.error

    inline = run(0)
    assert inline[0] > 100
    assert inline[2] is not None
    assert run(2) == inline


def test_inputs_are_read_oldest_first(tmp_path: Path) -> None:
    """Rotated files (older modification times) are read before the live one."""
    live, rotated = tmp_path / "fw.log", tmp_path / "fw.log.1"
    live.write_text(FW)
    rotated.write_text(FW)
    os.utime(rotated, (1_000_000, 1_000_000))
    report = analyze([str(live), str(rotated)], AnalyzeOptions())
    assert [f.path for f in report.files] == [str(rotated), str(live)]


def test_a_parser_fault_is_reported_and_the_next_input_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside a parser is the input's error, not the run's end."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(FW)
    second.write_text("hello\n")
    real = FirewallParser.parse

    def flaky(self: FirewallParser, frame: pl.DataFrame) -> object:
        if frame.get_column("line").str.contains(r"\|").any():  # a.log's lines
            raise RuntimeError("boom")
        return real(self, frame)

    monkeypatch.setattr(FirewallParser, "parse", flaky)
    errors: list[str] = []
    opts = AnalyzeOptions(format="firewall", parse_workers=0)
    report = analyze([str(first), str(second)], opts, on_error=errors.append)
    assert "internal error in the firewall stage" in (report.files[0].error or "")
    assert "RuntimeError: boom" in errors[0]
    assert report.files[1].error is None
    assert report.files[1].rejected == 1


def test_a_pipe_is_read_from_its_first_byte(tmp_path: Path) -> None:
    """A named pipe (what `<(zcat old.gz)` gives) cannot be reopened: sniffing its first
    lines must not cost them."""
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    lines = FW * 200

    def feed() -> None:
        with fifo.open("w") as f:
            f.write(lines)

    writer = threading.Thread(target=feed)
    writer.start()
    other = tmp_path / "fw.log"
    other.write_text(FW)
    report = analyze([str(fifo), str(other)], AnalyzeOptions())
    writer.join()
    assert [(f.lines, f.events, f.rejected) for f in report.files] == [(400, 400, 0), (2, 2, 0)]


def test_small_and_overlapping_inputs_read_small_blocks(tmp_path: Path) -> None:
    """An input is read in blocks no larger than itself, and smaller ones when other
    inputs are open beside it (a directory of many logs of one day is open at once)."""
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    small.write_text(FW)
    big.write_bytes(b"x" * (3 << 20))
    assert _block_bytes(str(small), 8 << 20, 0) == 64 << 10
    assert _block_bytes(str(big), 8 << 20, 0) == (3 << 20) + 1
    assert _block_bytes(str(big), 8 << 20, 3) == 2 << 20
    assert _block_bytes(str(big), 8 << 20, 100) == 1 << 20
