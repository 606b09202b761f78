"""Raw network messages → lines or rejects: every message is exactly one of the two."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from vigil.sources.net_lines import BINARY, EMPTY, printable, reject_text, shape_frames


def test_lines_keep_their_text_and_lose_only_trailing_line_ends():
    """A message is kept as sent; trailing CR/LF/NUL go, an inner line break is #012."""
    out = shape_frames([b"<13>one\r\n", b"<13>two\x00", b"a\nb\rc", b"\ttabbed"], 100)
    assert out.lines == ["<13>one", "<13>two", "a#012b#015c", "\ttabbed"]
    assert out.rejects == []


def test_rejects_say_why():
    """Empty, too long and binary messages are rejects with their reason and a printable
    prefix of what was sent."""
    out = shape_frames([b"", b"   ", b"z" * 11, b"bin\x00ary", bytes(range(1, 9))], 10)
    assert out.lines == []
    assert [r for r, _ in out.rejects] == [
        EMPTY,
        EMPTY,
        "message too long (11 bytes, limit 10)",
        f"{BINARY} (NUL byte)",
        f"{BINARY} (control bytes or invalid UTF-8)",
    ]
    assert out.rejects[3][1] == "bin\\x00ary"


def test_invalid_utf8_is_replaced_and_counted_unless_it_is_most_of_the_message():
    """A stray Latin-1 byte is replaced and counted; a message that is mostly invalid
    bytes is binary; colour escapes in a log line are not."""
    out = shape_frames(
        [b"caf\xe9 au lait", b"\xff\xfe\xfd\xfc ab", b"\x1b[31mred\x1b[0m alert on host"], 100
    )
    assert out.lines == ["caf\ufffd au lait", "\x1b[31mred\x1b[0m alert on host"]
    assert out.replaced == 1
    assert [r for r, _ in out.rejects] == [f"{BINARY} (control bytes or invalid UTF-8)"]


def test_blank_lines_can_be_skipped_and_counted():
    """With skip_blank, blank frames are counted, not rejected."""
    out = shape_frames([b"a", b"", b" \r"], 100, skip_blank=True)
    assert (out.lines, out.rejects, out.skipped) == (["a"], [], 2)


@given(st.lists(st.binary(max_size=300), max_size=50))
def test_every_frame_is_a_line_or_a_reject(frames):
    """However hostile the bytes, nothing is lost and nothing is duplicated."""
    out = shape_frames(list(frames), 200)
    assert len(out.lines) + len(out.rejects) == len(frames)
    assert all("\n" not in line and "\r" not in line for line in out.lines)


def test_reject_text_is_printable_and_bounded():
    """A rejected message is kept as a printable prefix of at most 1 KiB of input."""
    raw = random.Random(1).randbytes(5000)
    text = reject_text(raw)
    controls = [c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029"]
    assert set(controls) <= {"\t"}
    assert len(text) <= 4 * 1024
    assert printable("a\x00b\nc") == "a\\x00b\\x0ac"
