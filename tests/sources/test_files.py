"""The chunked line reader: inputs, compression, decoding, binary refusal, overlong lines."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from vigil.errors import SourceError
from vigil.sources.files import LineReader, expand_inputs


def _read(path: Path, **kw: int) -> tuple[list[str], list[int], list[int], int]:
    lines: list[str] = []
    numbers: list[int] = []
    overlong: list[int] = []
    replaced = 0
    with LineReader(str(path), **kw) as reader:
        for chunk in reader.chunks():
            frame = chunk.frame()
            lines += frame["line"].to_list()
            numbers += frame["log.file.line"].to_list()
            overlong += list(chunk.overlong)
            replaced += chunk.replaced
    return lines, numbers, overlong, replaced


class TestExpandInputs:
    def test_directories_recurse_and_sort(self, tmp_path: Path) -> None:
        """A directory expands to every file below it, sorted, hidden files left out."""
        (tmp_path / "b").mkdir()
        for name in ("b/z.log", "a.log", ".hidden"):
            (tmp_path / name).write_text("x\n")
        assert expand_inputs([str(tmp_path)]) == [
            str(tmp_path / "a.log"),
            str(tmp_path / "b/z.log"),
        ]

    def test_hidden_directories_and_directory_links_are_not_entered(self, tmp_path: Path) -> None:
        """Files under `.git/` or another hidden directory are left out, and a link back up
        the tree is not followed (no loop); a hidden directory named itself is read."""
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "HEAD.log").write_text("x\n")
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "auth.log").write_text("x\n")
        (tmp_path / "logs" / "loop").symlink_to(tmp_path, target_is_directory=True)
        assert expand_inputs([str(tmp_path)]) == [str(tmp_path / "logs" / "auth.log")]
        assert expand_inputs([str(tmp_path / ".git")]) == [str(tmp_path / ".git" / "HEAD.log")]

    def test_globs_stdin_and_duplicates(self, tmp_path: Path) -> None:
        """Globs expand, `-` is stdin, and a file named twice is read once."""
        (tmp_path / "x.log").write_text("x\n")
        got = expand_inputs([str(tmp_path / "*.log"), "-", str(tmp_path / "x.log")])
        assert got == [str(tmp_path / "x.log"), "-"]

    def test_missing_path_is_named(self, tmp_path: Path) -> None:
        """A path that names nothing is an error that names it."""
        with pytest.raises(SourceError, match=r"no such file or directory: .*nope"):
            expand_inputs([str(tmp_path / "nope")])

    def test_glob_matching_nothing(self, tmp_path: Path) -> None:
        """A glob that matches no file is an error."""
        with pytest.raises(SourceError, match="no file matches"):
            expand_inputs([str(tmp_path / "*.gz")])


class TestLineReader:
    def test_head_lines_read_past_a_long_first_line(self, tmp_path: Path) -> None:
        """Sniffing sees the first lines even behind a first line of 100 KB (a Suricata
        stats record), and chunks still start at line 1."""
        path = tmp_path / "eve.json"
        path.write_text("x" * 100_000 + "\n" + "".join(f"line {i}\n" for i in range(100)))
        with LineReader(str(path)) as reader:
            head = reader.head_lines(64)
            assert len(head) == 64 and head[1] == "line 0"
            first = next(reader.chunks())
            assert first.first_line == 1 and first.lines[1] == "line 0"

    def test_utf8_byte_order_mark_is_not_part_of_the_first_line(self, tmp_path: Path) -> None:
        """A BOM (Windows tools write one) is dropped, for sniffing and for parsing."""
        path = tmp_path / "a.log"
        path.write_bytes(b"\xef\xbb\xbfone\ntwo\n")
        with LineReader(str(path)) as reader:
            assert reader.head_lines() == ["one", "two", ""]
        assert _read(path)[0] == ["one", "two"]

    def test_line_numbers_across_chunks(self, tmp_path: Path) -> None:
        """Small blocks split the file into many chunks; line numbers stay exact."""
        path = tmp_path / "a.log"
        path.write_text("".join(f"line {i}\n" for i in range(1, 1001)))
        lines, numbers, _, _ = _read(path, block_bytes=100)
        assert lines == [f"line {i}" for i in range(1, 1001)]
        assert numbers == list(range(1, 1001))

    @pytest.mark.parametrize("block_bytes", [1, 7, 64, 1000, 1 << 20])
    def test_any_block_size_reads_the_same_lines(self, tmp_path: Path, block_bytes: int) -> None:
        """Whatever the block size, the lines are those of the whole text split at `\\n`
        (a `\\r` before it dropped), blank lines and undecodable bytes included."""
        rng = random.Random(block_bytes)
        pieces = ["ab", "", " ", "\r", "é€", "x" * 90, "\t", "\ufffd"]
        lines = ["".join(rng.choices(pieces, k=rng.randrange(6))) for _ in range(400)]
        data = "\n".join(lines).encode() + b"\nbad \xff\xfe\r\n\n\xc3\nend"
        path = tmp_path / "a.log"
        path.write_bytes(data)
        expected = [ln.removesuffix("\r") for ln in data.decode("utf-8", "replace").split("\n")]
        got, numbers, overlong, replaced = _read(path, block_bytes=block_bytes)
        assert got == expected
        assert numbers == list(range(1, len(expected) + 1))
        assert (overlong, replaced) == ([], 3)

    def test_crlf_and_missing_final_newline(self, tmp_path: Path) -> None:
        """CRLF endings are stripped and a last line without newline is kept."""
        path = tmp_path / "a.log"
        path.write_bytes(b"one\r\ntwo\r\nthree")
        assert _read(path)[0] == ["one", "two", "three"]

    @pytest.mark.parametrize(
        ("suffix", "compress"),
        [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
    )
    def test_compressed_by_magic(self, tmp_path: Path, suffix: str, compress: object) -> None:
        """Compressed files are recognised by their magic bytes, whatever their name."""
        path = tmp_path / "rotated.1"
        path.write_bytes(compress(b"a\nb\n"))  # type: ignore[operator]
        with LineReader(str(path)) as reader:
            assert reader.compression is not None
            assert [c.lines.to_list() for c in reader.chunks()] == [["a", "b"]]

    def test_truncated_gzip_is_a_clear_error(self, tmp_path: Path) -> None:
        """A gzip file cut short fails with a message naming the file, not a traceback."""
        path = tmp_path / "cut.gz"
        data = "".join(f"{i * 7919 % 100003:08x}\n" for i in range(20000)).encode()
        path.write_bytes(gzip.compress(data)[:5000])
        with pytest.raises(SourceError, match=r"cut\.gz"), LineReader(str(path)) as reader:
            list(reader.chunks())

    @pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
    def test_compressed_file_cut_short_gives_its_lines_before_the_cut(
        self, tmp_path: Path, compress: Callable[[bytes], bytes]
    ) -> None:
        """Every whole line before the cut of a truncated archive is read, in order, before
        the error (what zcat recovers), even within one block."""
        path = tmp_path / "cut.1"
        lines = [f"{i * 7919 % 100003:08x} line {i}" for i in range(100_000)]
        packed = compress("".join(f"{ln}\n" for ln in lines).encode())
        path.write_bytes(packed[: len(packed) * 2 // 3])
        got: list[str] = []
        with (
            pytest.raises(SourceError, match=r"cut\.1: read failed after line"),
            LineReader(str(path)) as reader,
        ):
            got.extend(line for chunk in reader.chunks() for line in chunk.lines.to_list())
        assert len(got) > len(lines) // 3
        assert got == lines[: len(got)]

    def test_damaged_gzip_is_a_clear_error(self, tmp_path: Path) -> None:
        """A gzip file whose data is not deflate names the file and what is wrong."""
        path = tmp_path / "bad.gz"
        path.write_bytes(b"\x1f\x8b\x08\x00garbage after the magic bytes" * 10)
        with pytest.raises(SourceError, match=r"cannot decompress .*bad\.gz"):
            LineReader(str(path)).open()

    def test_binary_refused(self, tmp_path: Path) -> None:
        """A file with NUL bytes at its start is refused as binary."""
        path = tmp_path / "a.bin"
        path.write_bytes(b"\x7fELF\x00\x00\x01" + bytes(range(256)))
        with pytest.raises(SourceError, match="looks binary"):
            LineReader(str(path)).open()

    def test_invalid_utf8_replaced_and_counted(self, tmp_path: Path) -> None:
        """Undecodable bytes become U+FFFD and are counted; a real U+FFFD is not counted."""
        path = tmp_path / "a.log"
        path.write_bytes(b"ok \xef\xbf\xbd\nbad \xff\xfe here\n")
        lines, _, _, replaced = _read(path)
        assert lines == ["ok \ufffd", "bad \ufffd\ufffd here"]
        assert replaced == 2

    def test_overlong_line_flagged_and_cut(self, tmp_path: Path) -> None:
        """A line over the limit is flagged with its number and cut; the next lines are intact."""
        path = tmp_path / "a.log"
        path.write_bytes(b"first\n" + b"A" * 50_000 + b"\nlast\n")
        lines, numbers, overlong, _ = _read(path, block_bytes=4096, max_line_bytes=10_000)
        assert overlong == [2]
        assert numbers == [1, 2, 3]
        assert lines[0] == "first" and lines[2] == "last"
        assert len(lines[1]) <= 1024

    def test_overlong_line_within_a_block(self, tmp_path: Path) -> None:
        """An overlong line that fits inside one block is flagged too."""
        path = tmp_path / "a.log"
        path.write_bytes(b"first\n" + b"B" * 5_000 + b"\nlast\n")
        lines, numbers, overlong, _ = _read(path, max_line_bytes=1_000)
        assert overlong == [2]
        assert numbers == [1, 2, 3]
        assert lines[2] == "last"

    def test_overlong_last_line_without_newline(self, tmp_path: Path) -> None:
        """An overlong final line with no newline is flagged once and nothing after is invented."""
        path = tmp_path / "a.log"
        path.write_bytes(b"first\n" + b"C" * 30_000)
        _, numbers, overlong, _ = _read(path, block_bytes=4096, max_line_bytes=10_000)
        assert overlong == [2]
        assert numbers == [1, 2]

    def test_head_lines_do_not_consume(self, tmp_path: Path) -> None:
        """Sniffing the first lines leaves them to be read as the first chunk."""
        path = tmp_path / "a.log"
        path.write_text("a\nb\nc\n")
        with LineReader(str(path)) as reader:
            assert reader.head_lines(2) == ["a", "b"]
            assert pl.concat([c.lines for c in reader.chunks()]).to_list() == ["a", "b", "c"]

    def test_empty_file(self, tmp_path: Path) -> None:
        """An empty file yields no lines and no error."""
        path = tmp_path / "empty.log"
        path.write_bytes(b"")
        assert _read(path)[0] == []
