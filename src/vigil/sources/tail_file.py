"""One followed file: its identity (fingerprint), where it has been read to, and how a
block of its bytes becomes a RawChunk of whole lines.

A file's identity is the hash of its first bytes, not its inode: an inode is reused
after a delete, and copytruncate keeps the inode while replacing the content. The
fingerprint covers the first FINGERPRINT_BYTES bytes, or all of a shorter file, and
says how many bytes it covers (`"<n>:<hash>"`). A short file's fingerprint grows with
the file until it covers FINGERPRINT_BYTES; a stored fingerprint of n bytes matches
a file whose first n bytes hash the same, so a file is recognised across restarts
whatever it has grown to since. Two files that start with the same n bytes cannot be
told apart while n is small: such a file is taken as the one already known.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime

from vigil.sources.live import Position, RawChunk

FINGERPRINT_BYTES = 1024
# Bytes of an overlong line kept for its reject.
OVERLONG_KEEP_BYTES = 1024
OVERLONG = "line too long"
CUT_BY_TRUNCATION = "line cut off when the file was truncated"


def fingerprint(head: bytes) -> str:
    return f"{len(head)}:{hashlib.sha256(head).hexdigest()[:32]}"


def fingerprint_matches(stored: str, head: bytes) -> bool:
    """Whether a file whose first bytes are `head` is the file `stored` was taken of."""
    count, _, _ = stored.partition(":")
    if not count.isdigit():
        return False
    n = int(count)
    return n <= len(head) and fingerprint(head[:n]) == stored


def read_head(fd: int) -> bytes:
    return os.pread(fd, FINGERPRINT_BYTES, 0)


def split_lines(data: bytes) -> tuple[list[str], int]:
    """The lines of whole-line bytes (each ends with `\\n`; `\\r\\n` too), and how many
    undecodable bytes were replaced by U+FFFD. str methods run in C: no loop per line."""
    text = data.decode("utf-8", "replace")
    replaced = 0
    if "\ufffd" in text:
        replaced = text.count("\ufffd") - data.count("\ufffd".encode())
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    lines.pop()  # the text ends with a newline: nothing follows it
    return lines, replaced


@dataclass
class TailedFile:
    """An open file being followed. `offset`/`line` are after the last whole line handed
    over; `consumed` is how far the file has been read (a held partial line, or an
    overlong line being skipped, lies between the two)."""

    key: str  # the path it is known by: its checkpoint key and log.file.path
    fd: int
    dev: int
    ino: int
    offset: int
    line: int
    head: bytes
    max_line_bytes: int
    # While the first lines read were committed by an earlier run: where they end.
    replay_until: int | None = None
    # Renamed away or deleted: read until this monotonic time passes with nothing new.
    draining_until: float | None = None
    consumed: int = field(init=False)
    partial: bytes = field(init=False, default=b"")
    overlong_head: bytes | None = field(init=False, default=None)
    size: int = field(init=False, default=0)
    replaced: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.consumed = self.offset

    @property
    def ident(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def position(self) -> Position:
        if len(self.head) < FINGERPRINT_BYTES and self.offset > len(self.head):
            self.head = read_head(self.fd)
        return Position(self.key, fingerprint(self.head), self.offset, self.line)

    def close(self) -> None:
        os.close(self.fd)

    def truncated(self, size: int) -> bool:
        """The content was cut or replaced under the same inode (copytruncate)."""
        if size < self.consumed:
            return True
        return bool(self.head) and os.pread(self.fd, len(self.head), 0) != self.head

    def restart(self) -> str | None:
        """Read the file again from its start; the cut partial line, if any."""
        cut = self.partial or self.overlong_head
        self.offset = self.consumed = 0
        self.line = 1
        self.head = b""
        self.partial = b""
        self.overlong_head = None
        self.replay_until = None
        return cut.decode("utf-8", "replace") if cut else None

    def read(self, block_bytes: int, source: str, now: datetime) -> tuple[list[RawChunk], int]:
        """Read one block; the chunks of the whole lines it completes, and the bytes read
        (0 at the end of the file)."""
        limit = block_bytes
        if self.replay_until is not None:
            if self.consumed >= self.replay_until:
                self.replay_until = None
            else:
                # A chunk never spans the end of the replay: its lines are all old or all new.
                limit = min(limit, self.replay_until - self.consumed)
        at = self.consumed
        data = os.pread(self.fd, limit, at)
        if not data:
            return [], 0
        self.consumed += len(data)
        if len(self.head) < FINGERPRINT_BYTES:
            self.head = read_head(self.fd)
        return self._take(data, at, source, now), len(data)

    def finish(self, source: str, now: datetime) -> list[RawChunk]:
        """The file will not grow any more: an unterminated last line is a line."""
        if self.overlong_head is not None:
            return [self._overlong_chunk(self.consumed, source, now)]
        if self.partial:
            whole, self.partial = self.partial, b""
            return [self._lines_chunk(whole + b"\n", len(whole), source, now)]
        return []

    def _take(self, data: bytes, at: int, source: str, now: datetime) -> list[RawChunk]:
        """Hand over the whole lines of `data`, read from file offset `at`."""
        chunks: list[RawChunk] = []
        if self.overlong_head is not None:
            # Skipping the rest of a line that was too long: it ends at the next newline.
            end = data.find(b"\n")
            if end < 0:
                return chunks
            chunks.append(self._overlong_chunk(at + end + 1, source, now))
            data = data[end + 1 :]
        buf = self.partial + data if self.partial else data  # starts at `offset`
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) > self.max_line_bytes:
                self.overlong_head, self.partial = buf[:OVERLONG_KEEP_BYTES], b""
            else:
                self.partial = buf
            return chunks
        first_end = buf.find(b"\n")
        if first_end > self.max_line_bytes:
            # Only the first line can be too long: it alone continues a held partial
            # line, and every other line lies in one block (block <= max_line_bytes).
            self.overlong_head = buf[:OVERLONG_KEEP_BYTES]
            chunks.append(self._overlong_chunk(self.offset + first_end + 1, source, now))
            buf = buf[first_end + 1 :]
            cut -= first_end + 1
        whole, self.partial = buf[:cut], buf[cut:]
        if whole:
            chunks.append(self._lines_chunk(whole, len(whole), source, now))
        return chunks

    def _overlong_chunk(self, end: int, source: str, now: datetime) -> RawChunk:
        """The overlong line that ends at file offset `end`, as a reject of its own (a
        chunk's lines are consecutive, so it cannot stand among them)."""
        head = self.overlong_head or b""
        self.overlong_head = None
        start = self.position()
        self.offset = end
        self.line += 1
        return RawChunk(
            source=source,
            origin=self.key,
            lines=[],
            received_at=now,
            first_line=start.line,
            position=self.position(),
            start=start,
            replay=self._replaying(),
            rejects=[(OVERLONG, head.decode("utf-8", "replace"))],
        )

    def _lines_chunk(self, whole: bytes, length: int, source: str, now: datetime) -> RawChunk:
        """`whole` ends with a newline; `length` bytes of the file stand behind it."""
        lines, replaced = split_lines(whole)
        self.replaced += replaced
        start = self.position()
        self.offset += length
        self.line += len(lines)
        return RawChunk(
            source=source,
            origin=self.key,
            lines=lines,
            received_at=now,
            first_line=start.line,
            position=self.position(),
            start=start,
            replay=self._replaying(),
        )

    def _replaying(self) -> bool:
        return self.replay_until is not None and self.offset <= self.replay_until
