"""Cut a syslog TCP stream into messages (RFC 6587): octet counting or newline framing.

The framing is chosen once per connection, from its first bytes: `MSG-LEN SP <` starts an
octet-counted stream (RFC 5425 and RFC 6587 §3.4.1 always carry a message that begins
with its PRI); anything else is newline-delimited (§3.4.2). Asking for the `<` keeps a
newline stream whose first line begins with a year (`2015 Nov 22 ...`) from being read
as a frame length. Senders do not switch framing inside a connection.

Messages are cut, not judged: `net_lines.shape_frames` decides what is a line and what
a reject. The framer rejects only what framing itself shows: an octet frame longer than
the limit, a line that passes the limit before its newline, a frame cut short by the
end of the connection, and a stream whose octet header is broken (after which the rest
of the stream cannot be framed, so the connection is closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from vigil.sources.net_lines import reject_text, too_long_reason

TRUNCATED = "truncated frame at connection close"
BAD_HEADER = "bad octet-counting header"

_OCTET_START = re.compile(rb"[1-9][0-9]{0,9} <")
_HEADER = re.compile(rb"([1-9][0-9]{0,9}) ")
# What may still grow into a frame header: a few digits, maybe their space.
_PARTIAL_HEADER = re.compile(rb"[0-9]{1,10} ?")
_MAX_HEADER = 12


@dataclass
class Framed:
    frames: list[bytes] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    broken: bool = False  # the stream cannot be framed any more: close the connection


class StreamFramer:
    """The framing state of one connection: feed it bytes as they come, close it at EOF."""

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self.mode: Literal["unknown", "octet", "lf"] = "unknown"
        self._buf = bytearray()
        # Octet mode: bytes of an oversized frame still to discard, and that frame's size.
        self._skip = 0
        # Newline mode: discarding an overlong line up to its newline.
        self._skip_line = False
        # Octet mode: the length announced by the frame being waited for.
        self._want: int | None = None

    def feed(self, data: bytes) -> Framed:
        out = Framed()
        if self.mode == "unknown":
            self._buf += data
            if not self._detect():
                return out
            data = bytes(self._buf)
            self._buf.clear()
        if self.mode == "lf":
            self._feed_lines(data, out)
        else:
            self._buf += data
            self._feed_octets(out)
        return out

    def close(self) -> Framed:
        """The end of the stream: a last unterminated line is a message; a partial
        octet frame is a reject."""
        out = Framed()
        rest = bytes(self._buf)
        self._buf.clear()
        if self.mode == "lf":
            if not self._skip_line and rest.strip():
                out.frames.append(rest)
        elif self._skip:
            self._skip = 0
        elif rest.strip(b"\r\n"):
            if self._want is not None:
                body = rest[rest.index(b" ") + 1 :]
                reason = f"{TRUNCATED} ({len(body)} of {self._want} bytes)"
            else:
                reason = TRUNCATED
            out.rejects.append((reason, reject_text(rest)))
        return out

    def _detect(self) -> bool:
        """Choose the framing from the first bytes; False while they cannot tell yet."""
        head = bytes(self._buf[:_MAX_HEADER])
        if not head:
            return False
        if _OCTET_START.match(head):
            self.mode = "octet"
        elif not (_PARTIAL_HEADER.fullmatch(head) and len(head) < _MAX_HEADER):
            self.mode = "lf"
        return self.mode != "unknown"

    def _feed_lines(self, data: bytes, out: Framed) -> None:
        if self._skip_line:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1 :]
            self._skip_line = False
        self._buf += data
        last = self._buf.rfind(b"\n")
        if last >= 0:
            # One C-level split for every complete line of the read.
            out.frames.extend(bytes(self._buf[:last]).split(b"\n"))
            del self._buf[: last + 1]
        if len(self._buf) > self.max_message:
            out.rejects.append(
                (
                    too_long_reason(len(self._buf), self.max_message) + ", cut at the limit",
                    reject_text(bytes(self._buf)),
                )
            )
            self._buf.clear()
            self._skip_line = True

    def _feed_octets(self, out: Framed) -> None:
        buf = self._buf
        i = 0
        while True:
            if self._skip:
                step = min(self._skip, len(buf) - i)
                i += step
                self._skip -= step
                if self._skip:
                    break
            # Some senders end each frame with a newline as well; it is not a message.
            while i < len(buf) and buf[i] in b"\r\n":
                i += 1
            if i >= len(buf):
                break
            m = _HEADER.match(buf, i)
            if m is None:
                if _PARTIAL_HEADER.fullmatch(buf, i) and len(buf) - i < _MAX_HEADER:
                    break
                out.rejects.append((BAD_HEADER, reject_text(bytes(buf[i:]))))
                out.broken = True
                i = len(buf)
                break
            size = int(m.group(1))
            start = m.end()
            if size > self.max_message:
                out.rejects.append(
                    (too_long_reason(size, self.max_message), reject_text(bytes(buf[start:])))
                )
                self._skip = size
                i = start
                continue
            if len(buf) - start < size:
                self._want = size
                break
            out.frames.append(bytes(buf[start : start + size]))
            self._want = None
            i = start + size
        del buf[:i]
