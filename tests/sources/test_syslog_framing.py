"""RFC 6587 framing of a syslog TCP stream: the framing chosen from the first bytes,
frames cut wherever the reads fall, and the rejects framing alone can tell."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from vigil.sources.syslog_framing import BAD_HEADER, TRUNCATED, Framed, StreamFramer

MSG = b"<34>1 2026-11-22T10:00:01Z gw sshd 42 - - Failed password for root"


def _octet(*messages: bytes) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


def _run(stream: bytes, cuts: list[int], max_message: int = 1024) -> tuple[StreamFramer, Framed]:
    """Feed the stream in pieces cut at `cuts`, then close it; everything it gave."""
    framer = StreamFramer(max_message)
    total = Framed()
    edges = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    for a, b in itertools.pairwise(edges):
        part = framer.feed(stream[a:b])
        total.frames += part.frames
        total.rejects += part.rejects
        total.broken |= part.broken
    end = framer.close()
    total.frames += end.frames
    total.rejects += end.rejects
    return framer, total


def test_framing_is_chosen_from_the_first_bytes():
    """`LEN SP <` is octet counting; a line starting with a year or a PRI is newline."""
    assert _run(_octet(MSG), [])[0].mode == "octet"
    framer, out = _run(b"2015 Nov 22 10:00:01 gw sshd[1]: msg\n<13>next\n", [])
    assert framer.mode == "lf"
    assert out.frames == [b"2015 Nov 22 10:00:01 gw sshd[1]: msg", b"<13>next"]
    assert _run(b"<13>Nov 22 10:00:01 gw app: x\n", [])[0].mode == "lf"


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_octet_frames_survive_any_split(cuts):
    """Wherever the stream is cut into reads, the same frames come out, in order."""
    messages = [MSG, b"<13>1 - h a - - - two\nlines", MSG + b" again"]
    _, out = _run(_octet(*messages), cuts)
    assert out.frames == messages
    assert out.rejects == []


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_newline_frames_survive_any_split(cuts):
    """Newline framing gives the same lines for any cut; a last line without its newline
    is a message at close."""
    stream = b"<13>one\r\n<13>two\n<13>three"
    _, out = _run(stream, cuts)
    assert out.frames == [b"<13>one\r", b"<13>two", b"<13>three"]


def test_oversize_octet_frame_is_rejected_and_skipped():
    """A frame announced over the limit is one reject; the frame after it is read."""
    big = b"<13>" + b"x" * 300
    _, out = _run(_octet(big, MSG), [5, 150], max_message=200)
    assert out.frames == [MSG]
    assert [r for r, _ in out.rejects] == ["message too long (304 bytes, limit 200)"]


def test_overlong_line_is_rejected_up_to_its_newline():
    """A line that passes the limit before its newline is one reject, however it is read."""
    stream = b"<13>" + b"y" * 500 + b"\n<13>after\n"
    _, out = _run(stream, [100, 300], max_message=200)
    assert out.frames == [b"<13>after"]
    assert len(out.rejects) == 1
    assert out.rejects[0][0].startswith("message too long (")


def test_frame_cut_by_the_close_is_a_truncation_reject():
    """An octet frame the connection ends inside is rejected with what arrived of it."""
    _, out = _run(_octet(MSG) + b"100 <13>1 partial", [])
    assert out.frames == [MSG]
    assert out.rejects == [(f"{TRUNCATED} (13 of 100 bytes)", "100 <13>1 partial")]
    _, only_digits = _run(b"12", [])
    assert only_digits.rejects == [(TRUNCATED, "12")]


def test_broken_octet_header_breaks_the_stream():
    """After a header that is not `LEN SP`, the stream cannot be framed: the rest is one
    reject and the connection must be closed."""
    _, out = _run(_octet(MSG) + b"junk <13> more", [])
    assert out.frames == [MSG]
    assert out.rejects == [(BAD_HEADER, "junk <13> more")]
    assert out.broken


def test_newlines_between_octet_frames_are_tolerated():
    """Senders that end each octet frame with a newline too lose nothing."""
    _, out = _run(_octet(MSG) + b"\n" + _octet(MSG) + b"\r\n", [])
    assert out.frames == [MSG, MSG]
    assert out.rejects == []
