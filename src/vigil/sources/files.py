"""Read log files as bounded chunks of decoded lines.

Memory is bounded by the chunk size, not the file size: a file is read in blocks of
`block_bytes`, cut at the last newline, decoded, and split into lines inside polars.
"""

from __future__ import annotations

import bz2
import contextlib
import glob
import gzip
import io
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, cast

import polars as pl

from vigil.errors import SourceError

STDIN = "-"
DEFAULT_BLOCK_BYTES = 8 << 20
DEFAULT_MAX_LINE_BYTES = 1 << 20
BINARY_PROBE_BYTES = 8192
_BOM = b"\xef\xbb\xbf"
# What sniffing reads at most of an input's start, in steps.
HEAD_MAX_BYTES = 1 << 20
_HEAD_STEP = 64 << 10
# Bytes of an overlong line that are kept for the reject report.
OVERLONG_KEEP_BYTES = 1024

# What a decompressor raises on a damaged or truncated stream.
_DAMAGED = (OSError, EOFError, lzma.LZMAError, zlib.error)
# Compressed input is read at most this much at a time, each read one step of the
# decompressor: a stream cut short (a truncated .gz) then gives every line before the
# cut, not only those of the blocks before it.
_COMPRESSED_PIECE = 256 << 10

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
]


@dataclass(frozen=True)
class Chunk:
    """Consecutive lines of one input, with their 1-based line numbers."""

    origin: str
    first_line: int
    lines: pl.Series
    # Line numbers of lines longer than the limit; their text is cut to a prefix.
    overlong: tuple[int, ...] = ()
    # Undecodable bytes replaced by U+FFFD in this chunk.
    replaced: int = 0

    def frame(self) -> pl.DataFrame:
        """The chunk as a DataFrame with columns `line` and `log.file.line`."""
        return pl.DataFrame(
            {
                "line": self.lines,
                "log.file.line": pl.int_range(
                    self.first_line, self.first_line + len(self.lines), dtype=pl.UInt64, eager=True
                ),
            }
        )


def expand_inputs(paths: list[str]) -> list[str]:
    """Turn files, directories (recursive) and globs into a sorted, de-duplicated file list.

    `-` stands for stdin. A path that names nothing is an error naming that path.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            out.append(p)

    for raw in paths:
        if raw == STDIN:
            add(STDIN)
            continue
        if os.path.isdir(raw):
            for found in sorted(_visible_files(raw)):
                add(found)
            continue
        if os.path.exists(raw):
            add(raw)
            continue
        if glob.has_magic(raw):
            matches = sorted(m for m in glob.glob(raw, recursive=True) if os.path.isfile(m))
            if not matches:
                raise SourceError(f"no file matches {raw!r}")
            for m in matches:
                add(m)
            continue
        raise SourceError(f"no such file or directory: {raw}")
    return out


def _visible_files(top: str) -> Iterator[str]:
    """The files under a directory, but hidden ones and those in hidden directories
    (`.git/`, `.cache/`). Symbolic links to directories are not followed (no loops)."""
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = os.path.join(root, name)
            if not name.startswith(".") and os.path.isfile(path):
                yield path


def file_mtime(origin: str) -> datetime | None:
    if origin == STDIN:
        return None
    try:
        return datetime.fromtimestamp(os.stat(origin).st_mtime, UTC)
    except OSError:
        return None


@dataclass
class LineReader:
    """Reads one input as chunks of lines. Use as a context manager."""

    origin: str
    block_bytes: int = DEFAULT_BLOCK_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    compression: str | None = field(default=None, init=False)
    bytes_read: int = field(default=0, init=False)
    _raw: IO[bytes] | None = field(default=None, init=False, repr=False)
    _stream: IO[bytes] | None = field(default=None, init=False, repr=False)
    _pending: bytes = field(default=b"", init=False, repr=False)
    _failure: Exception | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> LineReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        try:
            raw: IO[bytes] = sys.stdin.buffer if self.origin == STDIN else open(self.origin, "rb")  # noqa: SIM115
        except OSError as e:
            raise SourceError(f"cannot read {self.origin}: {e.strerror or e}") from e
        self._raw = raw
        try:
            head = raw.read(BINARY_PROBE_BYTES)
        except OSError as e:
            raise SourceError(f"cannot read {self.origin}: {e.strerror or e}") from e
        self.compression = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
        if self.compression is None:
            self._stream = raw
            self._pending = head
        else:
            # Rewind is not possible on stdin, so feed the probed bytes back in front.
            self._stream = _decompressor(self.compression, cast(IO[bytes], _Prefixed(head, raw)))
            try:
                self._pending = self._stream.read(BINARY_PROBE_BYTES)
            except _DAMAGED as e:
                raise SourceError(
                    f"cannot decompress {self.origin} ({self.compression}): {e}"
                ) from e
        if b"\x00" in self._pending[:BINARY_PROBE_BYTES]:
            raise SourceError(
                f"{self.origin} looks binary (NUL bytes in its first {BINARY_PROBE_BYTES} bytes); "
                "not a text log"
            )

    def close(self) -> None:
        if self._stream is not None and self._stream is not self._raw:
            self._stream.close()
        if self._raw is not None and self.origin != STDIN:
            self._raw.close()
        self._raw = self._stream = None

    def head_lines(self, n: int = 64) -> list[str]:
        """The first `n` lines of the input (up to `HEAD_MAX_BYTES` of it), for sniffing its
        format, without consuming them: a long first line (a Suricata stats record, an 8 KB
        request) must not leave the sniffer nothing to look at."""
        assert self._stream is not None, "LineReader.head_lines() before open()"
        ended = False
        while self._pending.count(b"\n") < n and len(self._pending) < HEAD_MAX_BYTES:
            try:
                more = self._stream.read(_HEAD_STEP)
            except _DAMAGED as e:
                raise SourceError(f"{self.origin}: read failed at its start: {e}") from e
            if not more:
                ended = True
                break
            self._pending += more
        lines = self._pending.removeprefix(_BOM).decode("utf-8", "replace").split("\n")
        if not ended:
            lines = lines[:-1]  # the last one may be cut
        return [ln.rstrip("\r") for ln in lines[:n]]

    def chunks(self) -> Iterator[Chunk]:
        assert self._stream is not None, "LineReader.chunks() before open()"
        line_no = 1
        # One buffer for the whole input, read into in place: a fresh bytes object per
        # block, sliced and concatenated with the previous block's tail, cost three
        # copies of every byte (more than splitting the lines).
        # A UTF-8 byte order mark (Windows tools write one) is not part of the first line.
        buf = bytearray(self._pending.removeprefix(_BOM))
        have = len(buf)
        self._pending = b""
        eof = False
        skipping_overlong = False
        while not eof:
            if len(buf) < have + self.block_bytes:
                buf.extend(bytes(have + self.block_bytes - len(buf)))
            if self._failure is not None:
                # The lines read before a damaged part have been passed on.
                raise SourceError(
                    f"{self.origin}: read failed after line {line_no - 1}: {self._failure}"
                ) from self._failure
            try:
                got = self._read_into(buf, have)
            except _DAMAGED as e:
                raise SourceError(
                    f"{self.origin}: read failed after line {line_no - 1}: {e}"
                ) from e
            eof = got == 0
            end = have + got
            cut = end if eof else buf.rfind(b"\n", 0, end) + 1
            if cut == 0:
                have = end
                if end > self.max_line_bytes:
                    # A line longer than the limit: keep its head, drop the rest until newline.
                    if not skipping_overlong:
                        head, replaced = _decode(bytes(buf[:OVERLONG_KEEP_BYTES]))
                        yield Chunk(
                            self.origin, line_no, pl.Series("line", [head]), (line_no,), replaced
                        )
                        line_no += 1
                    skipping_overlong = True
                    have = 0
                continue
            self.bytes_read += cut
            start = 0
            if skipping_overlong:
                start = buf.find(b"\n", 0, cut) + 1 or cut
                skipping_overlong = False
            with memoryview(buf) as view:
                data = bytes(view[start:cut])  # one copy (`buf[a:b]` would copy twice)
            tail = buf[cut:end]
            buf[: len(tail)] = tail
            have = len(tail)
            if not data:
                continue
            chunk = self._split(data, line_no)
            yield chunk
            line_no += len(chunk.lines)

    def _read_into(self, buf: bytearray, at: int) -> int:
        """Read up to `block_bytes` into `buf` from offset `at`; 0 at the end. A damaged
        compressed stream gives what was read before the damage (the failure is raised
        by the next read)."""
        # Files, stdin and the decompressors are all buffered binary streams.
        stream = cast(io.BufferedIOBase, self._stream)
        if self.compression is None:
            with memoryview(buf) as view, view[at : at + self.block_bytes] as window:
                return stream.readinto(window) or 0
        got = 0
        with memoryview(buf) as view:
            while got < self.block_bytes:
                size = min(_COMPRESSED_PIECE, self.block_bytes - got)
                with view[at + got : at + got + size] as window:
                    try:
                        # One read of the decompressor at most: `readinto` would
                        # lose the whole piece to an error at its end.
                        n = stream.readinto1(window) or 0
                    except _DAMAGED as e:
                        if not got:
                            raise
                        self._failure = e
                        return got
                if n == 0:
                    break
                got += n
        return got

    def _split(self, data: bytes, first: int) -> Chunk:
        lines, replaced = _split_lines(data)
        overlong: set[int] = set()
        if len(data) > self.max_line_bytes:
            too_long = lines.str.len_bytes() > self.max_line_bytes
            if too_long.any():
                idx = too_long.arg_true()
                overlong = {first + int(i) for i in idx}
                lines = lines.scatter(idx, lines.gather(idx).str.slice(0, OVERLONG_KEEP_BYTES))
        return Chunk(self.origin, first, lines, tuple(sorted(overlong)), replaced)


def _split_lines(data: bytes) -> tuple[pl.Series, int]:
    """The lines of a block (`\\n` or `\\r\\n` ends a line; a last `\\n` ends the last
    line, it does not start an empty one), and the count of undecodable bytes.

    polars' line reader splits and validates valid UTF-8 in native code (~6x faster
    than decoding in Python and splitting a one-row Series); it refuses a block with
    invalid UTF-8, which takes the Python path that replaces and counts the bad bytes.
    """
    with contextlib.suppress(pl.exceptions.ComputeError):  # invalid UTF-8: the Python path
        return pl.read_lines(data, name="line").to_series(), 0
    if data.endswith(b"\n"):
        data = data[:-1]
    text, replaced = _decode(data)
    lines = pl.Series("line", [text]).str.split("\n").explode()
    return lines.str.strip_suffix("\r"), replaced


def _decode(data: bytes) -> tuple[str, int]:
    """UTF-8 decode; undecodable bytes become U+FFFD and are counted."""
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        return text, text.count("\ufffd") - data.count("\ufffd".encode())


def _decompressor(kind: str, raw: IO[bytes]) -> IO[bytes]:
    if kind == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if kind == "bzip2":
        return cast(IO[bytes], bz2.BZ2File(raw, mode="rb"))
    return cast(IO[bytes], lzma.LZMAFile(raw, mode="rb"))


class _Prefixed:
    """A read-only byte stream: some already-read bytes, then the rest of a stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._rest.read(n - len(out))
            return out
        return self._rest.read(n)

    def readable(self) -> bool:
        return True
