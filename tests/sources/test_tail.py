"""The file tail source: appends, partial lines, start_at, rotation by rename and by
copytruncate, checkpoints matched by fingerprint, overlong and undecodable lines."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from pathlib import Path

import pytest

from vigil.sources.live import Position, RawChunk
from vigil.sources.tail import Resume, TailSource
from vigil.sources.tail_file import (
    FINGERPRINT_BYTES,
    OVERLONG,
    fingerprint,
    fingerprint_matches,
)
from vigil.sources.tail_scan import siblings


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Sink:
    def __init__(self) -> None:
        self.chunks: list[RawChunk] = []

    def __call__(self, chunk: RawChunk) -> None:
        self.chunks.append(chunk)

    def lines(self) -> list[str]:
        return [ln for c in self.chunks for ln in c.lines]

    def numbered(self) -> list[tuple[str, int, str]]:
        """(origin, line number, text) of every line delivered."""
        out = []
        for c in self.chunks:
            assert c.first_line is not None
            out += [(c.origin, c.first_line + i, t) for i, t in enumerate(c.lines)]
        return out


def tail(pattern: Path | str, clock: Clock | None = None, **kw: object) -> TailSource:
    kw.setdefault("start_at", "beginning")
    return TailSource("t", [str(pattern)], monotonic=clock or Clock(), **kw)  # type: ignore[arg-type]


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def rows(prefix: str, n: int, start: int = 0) -> str:
    return "".join(f"{prefix} line {i} of a reasonably long log record\n" for i in range(start, n))


class TestFingerprint:
    def test_grows_and_still_matches(self) -> None:
        """A fingerprint of a short file matches the file after it has grown."""
        short = fingerprint(b"abc\n")
        assert short.startswith("4:")
        assert fingerprint_matches(short, b"abc\nmore lines\n")
        assert not fingerprint_matches(short, b"abd\nmore lines\n")
        assert not fingerprint_matches(short, b"ab")

    def test_covers_at_most_the_first_kilobyte(self) -> None:
        """Bytes past the first FINGERPRINT_BYTES do not change the fingerprint."""
        head = b"x" * FINGERPRINT_BYTES
        fp = fingerprint(head)
        assert fingerprint_matches(fp, head + b"anything")
        assert not fingerprint_matches("junk", head)


class TestFollow:
    def test_follows_appends_with_line_numbers(self, tmp_path: Path) -> None:
        """Lines appended between rounds are delivered once, numbered from 1 on."""
        log = tmp_path / "a.log"
        log.write_text("one\ntwo\n")
        src, sink = tail(log), Sink()
        src.poll(sink)
        append(log, "three\n")
        src.poll(sink)
        src.poll(sink)
        assert sink.numbered() == [
            (str(log), 1, "one"),
            (str(log), 2, "two"),
            (str(log), 3, "three"),
        ]
        last = sink.chunks[-1].position
        assert last is not None and last.offset == log.stat().st_size and last.line == 4
        assert src.caught_up() and src.backlog_bytes() == 0

    def test_partial_line_waits_for_its_newline(self, tmp_path: Path) -> None:
        """A last line without its newline is held back until the newline comes."""
        log = tmp_path / "a.log"
        log.write_text("one\ntw")
        src, sink = tail(log), Sink()
        src.poll(sink)
        assert sink.lines() == ["one"]
        assert sink.chunks[-1].position.offset == 4  # type: ignore[union-attr]
        append(log, "o\n")
        src.poll(sink)
        assert sink.lines() == ["one", "two"]

    def test_start_at_end_skips_old_lines(self, tmp_path: Path) -> None:
        """start_at end follows from the last whole line, keeping real line numbers."""
        log = tmp_path / "a.log"
        log.write_text("old 1\nold 2\nbeing writ")
        src, sink = tail(log, start_at="end"), Sink()
        src.poll(sink)
        assert sink.lines() == []
        append(log, "ten\nnew\n")
        src.poll(sink)
        assert sink.numbered() == [(str(log), 3, "being written"), (str(log), 4, "new")]

    def test_new_file_matching_the_pattern_is_read_from_its_start(self, tmp_path: Path) -> None:
        """A file that appears after the start is read whole, even with start_at end."""
        (tmp_path / "a.log").write_text("old\n")
        src, sink = tail(tmp_path / "*.log", start_at="end"), Sink()
        src.poll(sink)
        (tmp_path / "b.log").write_text("first\nsecond\n")
        (tmp_path / ".hidden.log").write_text("hidden\n")
        src.poll(sink)
        assert sink.lines() == ["first", "second"]

    def test_crlf_and_undecodable_bytes(self, tmp_path: Path) -> None:
        """CRLF ends a line like LF; undecodable bytes become U+FFFD and are counted."""
        log = tmp_path / "a.log"
        log.write_bytes(b"one\r\nt\xffo\n")
        src, sink = tail(log), Sink()
        src.poll(sink)
        assert sink.lines() == ["one", "t\ufffdo"]
        assert src.stats().detail["replaced_bytes"] == "1"

    def test_overlong_line_is_a_numbered_reject(self, tmp_path: Path) -> None:
        """A line over the limit is one reject with its line number; later lines keep theirs."""
        log = tmp_path / "a.log"
        log.write_text("short\n" + "x" * 5000 + "\nafter\n")
        src, sink = tail(log, max_line_bytes=1000, block_bytes=512), Sink()
        src.poll(sink)
        rejects = [(c.first_line, r) for c in sink.chunks for r in c.rejects]
        assert [(n, reason) for n, (reason, _) in rejects] == [(2, OVERLONG)]
        assert set(rejects[0][1][1]) == {"x"} and len(rejects[0][1][1]) <= 1024
        assert [(n, t) for _, n, t in sink.numbered()] == [(1, "short"), (3, "after")]
        assert sink.chunks[-1].position.offset == log.stat().st_size  # type: ignore[union-attr]

    def test_compressed_and_binary_files_are_not_followed(self, tmp_path: Path) -> None:
        """A .gz or binary file matched by the pattern is refused, not read as text."""
        with gzip.open(tmp_path / "old.log.gz", "wt") as f:
            f.write("zipped\n")
        (tmp_path / "wtmp.log").write_bytes(b"\x00\x01\x02\n")
        (tmp_path / "a.log").write_text("text\n")
        src, sink = tail(tmp_path / "*"), Sink()
        src.poll(sink)
        assert sink.lines() == ["text"]


class TestRotation:
    def test_rename_rotation_finishes_the_old_file_then_reads_the_new(self, tmp_path: Path) -> None:
        """After a rename, the rest of the old file (late writes too) comes first, then
        the new file from its start; nothing twice."""
        log = tmp_path / "auth.log"
        log.write_text(rows("a", 3))
        clock = Clock()
        src, sink = tail(log, clock, rotate_wait=5.0), Sink()
        src.poll(sink)
        append(log, rows("a", 5, 3))  # unread when the rotation happens
        rotated = tmp_path / "auth.log.1"
        os.rename(log, rotated)
        log.write_text(rows("b", 2))
        src.poll(sink)
        append(rotated, rows("a", 6, 5))  # a writer that has not reopened yet
        clock.t += 1
        src.poll(sink)
        clock.t += 10
        src.poll(sink)
        src.poll(sink)
        got = sink.numbered()
        assert [t for _, _, t in got] == [
            *rows("a", 5).splitlines(),
            *rows("b", 2).splitlines(),
            rows("a", 6, 5).strip(),
        ]
        assert [(o, n) for o, n, _ in got[3:]] == [
            (str(rotated), 4),
            (str(rotated), 5),
            (str(log), 1),
            (str(log), 2),
            (str(rotated), 6),
        ]
        assert src.stats().detail["files"] == "1"  # the rotated file was let go

    def test_rotation_into_the_pattern_is_not_read_again(self, tmp_path: Path) -> None:
        """With a pattern matching the rotated name too, the renamed file goes on under
        its new name instead of being read again from its start."""
        log = tmp_path / "auth.log"
        log.write_text(rows("a", 3))
        src, sink = tail(tmp_path / "auth.log*"), Sink()
        src.poll(sink)
        os.rename(log, tmp_path / "auth.log.1")
        log.write_text(rows("b", 1))
        src.poll(sink)
        src.poll(sink)
        assert sink.lines() == [*rows("a", 3).splitlines(), rows("b", 1).strip()]

    @pytest.mark.parametrize("pattern", ["auth.log", "auth.log*"])
    def test_copytruncate_reads_the_unread_rest_from_the_copy(
        self, tmp_path: Path, pattern: str
    ) -> None:
        """copytruncate: the lines not read before the truncation come from the copy,
        then the file's new lines; none twice (whether or not the copy is followed)."""
        log = tmp_path / "auth.log"
        log.write_text(rows("a", 3))
        src, sink = tail(tmp_path / pattern), Sink()
        src.poll(sink)
        append(log, rows("a", 5, 3))
        shutil.copyfile(log, tmp_path / "auth.log.1")
        with log.open("r+") as f:
            f.truncate(0)
        append(log, rows("b", 2))
        src.poll(sink)
        src.poll(sink)
        assert sink.lines() == [*rows("a", 5).splitlines(), *rows("b", 2).splitlines()]
        # The copy is said to stand where the file stood (its checkpoint goes there).
        copy = str(tmp_path / "auth.log.1")
        standing = [c.position for c in sink.chunks if c.origin == copy and not c.lines]
        assert standing and standing[0] is not None and standing[0].line in (4, 6)

    def test_truncation_without_a_copy_counts_the_cut_line(self, tmp_path: Path) -> None:
        """A file truncated with a partial line held: the cut line is a counted reject."""
        log = tmp_path / "auth.log"
        log.write_text("one\ntw")
        src, sink = tail(log), Sink()
        src.poll(sink)
        log.write_text("new\n")
        src.poll(sink)
        assert sink.lines() == ["one", "new"]
        assert [c.rejects for c in sink.chunks if c.rejects] == [
            [("line cut off when the file was truncated", "tw")]
        ]


class TestResume:
    def test_resumes_at_the_checkpoint(self, tmp_path: Path) -> None:
        """A checkpoint of the same file resumes after its committed lines."""
        log = tmp_path / "a.log"
        log.write_text(rows("a", 4))
        first, sink = tail(log), Sink()
        first.poll(sink)
        done = sink.chunks[-1].position
        assert done is not None
        append(log, rows("a", 6, 4))
        again, sink2 = tail(log, start_at="end", resume=[Resume(done)]), Sink()
        again.poll(sink2)
        assert [n for _, n, _ in sink2.numbered()] == [5, 6]
        assert not any(c.replay for c in sink2.chunks)

    def test_replay_marks_the_committed_lines(self, tmp_path: Path) -> None:
        """From a replay position, the lines up to the commit are flagged as replay, and
        no chunk spans both."""
        log = tmp_path / "a.log"
        log.write_text(rows("a", 4))
        sink = Sink()
        tail(log, block_bytes=64).poll(sink)
        marks = [c.position for c in sink.chunks]
        replay, commit = marks[0], marks[1]
        assert replay is not None and commit is not None
        again, sink2 = tail(log, resume=[Resume(commit, replay)], block_bytes=1 << 16), Sink()
        again.poll(sink2)
        flags = [(c.replay, c.first_line, len(c.lines)) for c in sink2.chunks]
        assert flags[0][0] and flags[0][1] == replay.line
        assert sum(n for r, _, n in flags if r) == commit.line - replay.line
        assert sum(n for r, _, n in flags if not r) == 5 - commit.line

    def test_file_rotated_while_down_is_finished_first(self, tmp_path: Path) -> None:
        """A checkpointed file renamed while vigil was down is found by fingerprint and
        read to its end; the new file at the path is read from its start."""
        log = tmp_path / "auth.log"
        log.write_text(rows("a", 3))
        sink = Sink()
        tail(log).poll(sink)
        done = sink.chunks[-1].position
        assert done is not None
        append(log, rows("a", 5, 3))
        os.rename(log, tmp_path / "auth.log.1")
        log.write_text(rows("b", 2))
        again, sink2 = tail(log, start_at="end", resume=[Resume(done)]), Sink()
        again.poll(sink2)
        assert sink2.lines() == [*rows("a", 5, 3).splitlines(), *rows("b", 2).splitlines()]

    def test_unmatched_checkpoint_is_forgotten(self, tmp_path: Path) -> None:
        """A checkpoint whose file is gone is reported for deletion; the file now at its
        path is read from the start (it was written after the checkpoint)."""
        log = tmp_path / "a.log"
        log.write_text("fresh\n")
        gone = Position(str(log), fingerprint(b"other content\n"), 14, 2)
        src, sink = tail(log, start_at="end", resume=[Resume(gone)]), Sink()
        src.poll(sink)
        assert sink.lines() == ["fresh"]
        assert src.forgotten == [str(log)]


def test_thread_delivers_until_stopped(tmp_path: Path) -> None:
    """start() follows on a thread; stop() returns once it has ended."""
    log = tmp_path / "a.log"
    log.write_text("one\n")
    got = threading.Event()
    sink = Sink()

    def deliver(chunk: RawChunk) -> None:
        sink(chunk)
        got.set()

    src = TailSource("t", [str(log)], start_at="beginning", poll_interval=0.01)
    src.start(deliver)
    assert got.wait(5)
    src.stop()
    assert sink.lines() == ["one"]
    assert src.stats().lines == 1


def test_a_named_pipe_beside_a_followed_file_does_not_stall_the_scan(tmp_path: Path) -> None:
    """Looking for rotated siblings, a named pipe with no writer is passed over at once
    (opening it for reading would wait for a writer forever)."""
    (tmp_path / "auth.log").write_text("x\n")
    os.mkfifo(tmp_path / "pipe")
    found: list[str] = []

    def scan() -> None:
        found.extend(c.path for c in siblings(str(tmp_path), set()))

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert found == [str(tmp_path / "auth.log")]
