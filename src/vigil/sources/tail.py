"""The file tail source: follows files matched by glob patterns (a directory watch is
a pattern over a directory), across rotations, from a checkpoint.

One thread polls: it re-expands the patterns (new files are picked up), checks every
open file for a rename (rotation by rename + create, or a delete) and for truncation
(copytruncate), and reads what is new in blocks, handing whole lines to `deliver`.
`deliver` may block: that is the back-pressure, and nothing is read meanwhile.

Rotation by rename: the open descriptor keeps reading the renamed file to its end, and
for `rotate_wait` seconds after for late writes (a writer that has not reopened yet),
before the new file at the path is read, so lines are read once and in order. Its new
name is found by inode and becomes its key. Copytruncate: the content is gone from the
file, so the copy (a sibling file that starts with the same bytes) is read from where
the file had been read to, then the file from its start; lines written between the
copy and the truncation are lost by the nature of copytruncate.

On start, each checkpoint (`Resume`) is matched to a file by fingerprint, not by name:
the file at its path, else another matched file, else a sibling in the same directory
(the file was rotated while vigil was down). A file that no checkpoint matches is read
from its start, except on the source's very first start, where `start_at` decides.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

from vigil.clock import Clock, SystemClock
from vigil.sources.live import Deliver, RawChunk, SourceStats
from vigil.sources.tail_file import (
    CUT_BY_TRUNCATION,
    FINGERPRINT_BYTES,
    TailedFile,
    fingerprint_matches,
)
from vigil.sources.tail_scan import (
    COMPRESSED_MAGIC,
    DELETED,
    Resume,
    by_inode,
    candidate,
    count_newlines,
    find_copy,
    last_line_end,
    match_resumes,
    stat_or_none,
)

__all__ = ["DEFAULT_MAX_LINE", "DEFAULT_TAIL_BLOCK", "Resume", "StartAt", "TailSource"]

log = logging.getLogger("vigil.tail")

StartAt = Literal["end", "beginning"]
DEFAULT_TAIL_BLOCK = 1 << 20
DEFAULT_MAX_LINE = 1 << 20
# Blocks read from one file per round before the other files get their turn.
BLOCKS_PER_ROUND = 64
BINARY_PROBE = 8192
# A new file whose first bytes repeat this many or more of a followed file's first bytes
# is a copy of it (copytruncate in progress), not a new log.
COPY_MIN_BYTES = 64


class TailSource:
    kind = "file"

    def __init__(
        self,
        name: str,
        patterns: Sequence[str],
        *,
        start_at: StartAt = "end",
        resume: Sequence[Resume] = (),
        block_bytes: int = DEFAULT_TAIL_BLOCK,
        max_line_bytes: int = DEFAULT_MAX_LINE,
        poll_interval: float = 0.25,
        rotate_wait: float = 5.0,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.patterns = list(patterns)
        self.start_at = start_at
        # Newest first: when two checkpoints match one file, the newer one wins.
        self.resume = list(resume)
        self.block_bytes = min(block_bytes, max_line_bytes)
        self.max_line_bytes = max_line_bytes
        self.poll_interval = poll_interval
        self.rotate_wait = rotate_wait
        self.clock: Clock = clock or SystemClock()
        self.monotonic = monotonic
        self._files: dict[tuple[int, int], TailedFile] = {}
        self._refused: dict[str, tuple[int, int]] = {}
        self._stats = SourceStats(name=name, kind=self.kind)
        self._started = False
        self._caught_up = False
        self._backlog = 0
        self._replaced = 0
        # Checkpoint keys that matched no file on start: the daemon forgets them.
        self.forgotten: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the LiveSource protocol -------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(deliver,), name=f"vigil-tail-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for f in self._files.values():
            f.close()
        self._files.clear()

    def stats(self) -> SourceStats:
        self._stats.detail = {
            "files": str(len(self._files)),
            "backlog_bytes": str(self._backlog),
            "replaced_bytes": str(self._replaced),
        }
        return self._stats

    # -- what the daemon asks besides ----------------------------------------------------

    def caught_up(self) -> bool:
        """The last round read every file to its end."""
        return self._caught_up

    def backlog_bytes(self) -> int:
        """Bytes written to the followed files and not read yet."""
        return self._backlog

    def _run(self, deliver: Deliver) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll(deliver)
            except Exception:
                # A file system fault must not end the tail: report it and poll again.
                log.exception("tail %s: poll failed", self.name)
                busy = False
            if not busy:
                self._stop.wait(self.poll_interval)

    def poll(self, deliver: Deliver) -> bool:
        """One round: scan, check, read. Whether anything was read."""
        found = self._scan()
        if not self._started:
            self._started = True
            self._open_first(found)
        now = self.monotonic()
        for f in list(self._files.values()):
            self._check(f, found, now, deliver)
        for path, st in sorted(found.items(), key=lambda item: item[1].st_mtime):
            if (st.st_dev, st.st_ino) not in self._files:
                self._open_new(path, st, deliver)
        busy = False
        caught_up = True
        # Renamed files first: their lines come before those of the file that replaced them.
        order = sorted(self._files.values(), key=lambda f: f.draining_until is None)
        for f in order:
            got, at_end = self._read(f, deliver)
            busy |= got > 0
            caught_up &= at_end
            if f.draining_until is None:
                continue
            if got:
                f.draining_until = now + self.rotate_wait  # late writes: wait again
            elif at_end and now >= f.draining_until:
                self._emit(f.finish(self.name, self.clock.now()), deliver)
                f.close()
                del self._files[f.ident]
        self._caught_up = caught_up
        self._backlog = sum(max(f.size - f.consumed, 0) for f in self._files.values())
        self._replaced = sum(f.replaced for f in self._files.values())
        return busy

    # -- finding files -------------------------------------------------------------------

    def _scan(self) -> dict[str, os.stat_result]:
        found: dict[str, os.stat_result] = {}
        for pattern in self.patterns:
            paths = glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern]
            for path in paths:
                if os.path.basename(path).startswith("."):
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found[path] = st
        return found

    def _open_first(self, found: dict[str, os.stat_result]) -> None:
        """Match the checkpoints to files and open them where they were left."""
        matched, lost = match_resumes(self.resume, found)
        for resume in lost:
            self.forgotten.append(resume.commit.path)
            if resume.commit.path in found:
                log.warning(
                    "tail %s: the file %s was read to offset %d is gone (rotated and "
                    "compressed, or deleted); lines written to it after that were not read",
                    self.name,
                    resume.commit.path,
                    resume.commit.offset,
                )
        claimed = set()
        for resume, match in matched:
            claimed.add((match.st.st_dev, match.st.st_ino))
            start = resume.commit
            replay = resume.replay
            if (
                replay is not None
                and replay.offset <= start.offset
                and fingerprint_matches(replay.fingerprint, match.head)
            ):
                start = replay
            f = self._open(match.path, match.st, offset=start.offset, line=start.line)
            if f is None:
                continue
            if start.offset < resume.commit.offset:
                f.replay_until = resume.commit.offset
            if match.path not in found:
                f.draining_until = self.monotonic() + self.rotate_wait
        for path, st in sorted(found.items(), key=lambda item: item[1].st_mtime):
            if (st.st_dev, st.st_ino) in claimed:
                continue
            if not self.resume and self.start_at == "end":
                self._open_at_end(path, st)
            else:
                self._open(path, st, offset=0, line=1)

    def _open(self, path: str, st: os.stat_result, *, offset: int, line: int) -> TailedFile | None:
        ident = (st.st_dev, st.st_ino)
        if self._refused.get(path) == ident:
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            log.warning("tail %s: cannot open %s: %s", self.name, path, e.strerror)
            return None
        probe = os.pread(fd, BINARY_PROBE, 0)
        if probe.startswith(COMPRESSED_MAGIC) or b"\x00" in probe:
            os.close(fd)
            self._refused[path] = ident
            log.warning("tail %s: %s is compressed or binary; not followed", self.name, path)
            return None
        f = TailedFile(
            key=path,
            fd=fd,
            dev=st.st_dev,
            ino=st.st_ino,
            offset=offset,
            line=line,
            head=probe[:FINGERPRINT_BYTES],
            max_line_bytes=self.max_line_bytes,
        )
        f.size = st.st_size
        self._files[ident] = f
        return f

    def _open_new(self, path: str, st: os.stat_result, deliver: Deliver) -> None:
        """A file that appeared since the last round: read from its start, unless it is
        the copy of a followed file being made by copytruncate (then from where that
        file has been read to; the lines before were read from the original)."""
        head = candidate(path)
        original = None if head is None else self._copied(head.head)
        if original is None:
            self._open(path, st, offset=0, line=1)
            return
        log.info("tail %s: %s is a copy of %s", self.name, path, original.key)
        copy = self._open(path, st, offset=original.offset, line=original.line)
        if copy is not None:
            self._emit([self._standing(copy)], deliver)

    def _copied(self, head: bytes) -> TailedFile | None:
        for f in self._files.values():
            n = min(len(f.head), len(head))
            if n >= COPY_MIN_BYTES and head[:n] == f.head[:n]:
                return f
        return None

    def _open_at_end(self, path: str, st: os.stat_result) -> None:
        """Follow from the end: after the file's last whole line (a line being written
        is read once it is complete), with that line's number."""
        f = self._open(path, st, offset=0, line=1)
        if f is None:
            return
        end = last_line_end(f.fd, st.st_size, self.max_line_bytes)
        f.line = 1 + count_newlines(f.fd, end)
        f.offset = f.consumed = end

    # -- rotation and truncation ---------------------------------------------------------

    def _check(
        self, f: TailedFile, found: dict[str, os.stat_result], now: float, deliver: Deliver
    ) -> None:
        try:
            mine = os.fstat(f.fd)
        except OSError:
            return
        f.size = mine.st_size
        at_key = found.get(f.key)
        if at_key is None and f.draining_until is None:
            at_key = stat_or_none(f.key)
        if at_key is None or (at_key.st_dev, at_key.st_ino) != f.ident:
            if f.draining_until is None:
                self._renamed(f, found, now, deliver)
        elif f.truncated(mine.st_size):
            self._truncated(f, deliver)

    def _renamed(
        self, f: TailedFile, found: dict[str, os.stat_result], now: float, deliver: Deliver
    ) -> None:
        new = next((p for p, st in found.items() if (st.st_dev, st.st_ino) == f.ident), None)
        if new is not None:
            log.info("tail %s: %s is now %s", self.name, f.key, new)
            f.key = new
        else:
            new = by_inode(os.path.dirname(f.key) or ".", f.ident)
            log.info("tail %s: %s rotated (now %s)", self.name, f.key, new or "deleted")
            f.key = new or f.key + DELETED
            f.draining_until = now + self.rotate_wait
        # Say where the file stands under its new name, even when nothing more is read
        # from it: its checkpoint moves there, with what it takes to re-read its lines.
        self._emit([self._standing(f)], deliver)

    def _standing(self, f: TailedFile) -> RawChunk:
        """A chunk without lines that only says where a file stands."""
        here = f.position()
        return RawChunk(
            self.name, f.key, [], self.clock.now(), first_line=here.line, position=here, start=here
        )

    def _truncated(self, f: TailedFile, deliver: Deliver) -> None:
        """Copytruncate: finish the lines not read yet from the copy, then start over."""
        log.info("tail %s: %s was truncated", self.name, f.key)
        if f.head and any(o is not f and o.head.startswith(f.head) for o in self._files.values()):
            # The copy is already followed (it matched the patterns before the truncation).
            f.restart()
            return
        copy = None
        if f.head:
            busy = set(self._files)
            copy = find_copy(f.key, f.head, f.consumed, busy)
        if copy is not None:
            drained = self._open(copy.path, copy.st, offset=f.offset, line=f.line)
            if drained is not None:
                drained.draining_until = self.monotonic() + self.rotate_wait
                # The copy is the file read so far: it stands where the file stood, and
                # its lines come before the truncated file's new ones.
                self._emit([self._standing(drained)], deliver)
                self._read_all(drained, deliver)
        cut = f.restart()
        if cut is not None and copy is None:
            reject = (CUT_BY_TRUNCATION, cut[:1024])
            chunk = RawChunk(self.name, f.key, [], self.clock.now(), rejects=[reject])
            self._emit([chunk], deliver)

    # -- reading -------------------------------------------------------------------------

    def _read(self, f: TailedFile, deliver: Deliver) -> tuple[int, bool]:
        """Up to BLOCKS_PER_ROUND blocks; (bytes read, whether the end was reached)."""
        total = 0
        for _ in range(BLOCKS_PER_ROUND):
            if self._stop.is_set():
                return total, False
            chunks, got = f.read(self.block_bytes, self.name, self.clock.now())
            if got == 0:
                return total, True
            total += got
            self._stats.bytes += got
            self._emit(chunks, deliver)
        return total, False

    def _read_all(self, f: TailedFile, deliver: Deliver) -> None:
        while not self._stop.is_set():
            got, at_end = self._read(f, deliver)
            if at_end or got == 0:
                return

    def _emit(self, chunks: list[RawChunk], deliver: Deliver) -> None:
        for chunk in chunks:
            self._stats.lines += len(chunk.lines)
            self._stats.rejected += len(chunk.rejects)
            self._stats.last_received = chunk.received_at
            deliver(chunk)
