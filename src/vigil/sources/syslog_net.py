"""Syslog listeners: UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425).

One asyncio event loop on a thread of its own serves the socket (uvloop when installed:
it costs half the CPU per datagram of the default loop, 4.5-5 against 9-11 µs, and so
loses none at 100k messages/s where the default loop starts to; bench/syslog_udp.py).
The loop only receives and frames; messages wait in a per-peer batch that closes after
`batch_lines` lines, `BATCH_BYTES` bytes or `batch_ms` milliseconds, and go to the
delivery thread through a byte-bounded hand-off (`handoff.Handoff`), which shapes them
into lines (`net_lines`) and calls `deliver`.

When the hand-off is full, UDP datagrams are dropped and counted (a datagram sender
cannot be slowed down), while TCP connections stop being read until there is room
again, so the senders' own buffers and the kernel's hold the backlog.

The lines are handed over as they came (RFC 3164 or 5424 text, header included); the
daemon parses them with the same parsers as `vigil analyze`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from vigil.clock import Clock, SystemClock
from vigil.errors import SourceError
from vigil.sources.handoff import Handoff
from vigil.sources.live import Deliver, RawChunk, SourceStats
from vigil.sources.net_lines import shape_frames
from vigil.sources.net_settings import SyslogSettings
from vigil.sources.net_sockets import bind_socket, kernel_drops, new_loop, peer_origin, tls_context
from vigil.sources.syslog_framing import StreamFramer

# A batch also closes at this many bytes, so a queue of 64 KiB messages stays bounded.
BATCH_BYTES = 1 << 20
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
TLS_HANDSHAKE_TIMEOUT = 10.0
# Peer address → origin text, remembered for this many peers (spoofed UDP can bring any).
_ORIGIN_CACHE = 4096


@dataclass
class _Batch:
    origin: str
    received_at: datetime
    frames: list[bytes] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    nbytes: int = 0


class SyslogSource:
    """A live source of syslog lines received on one UDP, TCP or TLS socket."""

    kind = "syslog"

    def __init__(self, name: str, settings: SyslogSettings, clock: Clock | None = None) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock or SystemClock()
        self._scheme = settings.protocol
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._handoff: Handoff[_Batch] | None = None
        self._sock: socket.socket | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._conns: dict[asyncio.Transport, StreamFramer] = {}
        self._pending: dict[str, _Batch] = {}
        self._pending_lines = 0
        self._pending_bytes = 0
        self._max_lines = settings.batch_lines
        self._origins: dict[Any, str] = {}
        self._reset_counters()
        self.address: tuple[str, int] = settings.address

    def _reset_counters(self) -> None:
        # State of the loop thread; a start after a stop counts afresh, like its hand-off.
        self._paused = False
        self._resume_asked = False
        self._received = 0
        self._dropped = 0
        self._refused_connections = 0
        self._connections = 0
        self._loop_errors = 0
        # Datagrams lost in the kernel before vigil saw them (read at stats(), kept after stop).
        self._kernel_drops = 0
        self._last_loop_error = ""

    # -- LiveSource ---------------------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        if self._thread is not None:
            raise SourceError(f"source {self.name} is already started")
        s = self.settings
        self._reset_counters()
        ctx = tls_context(s) if s.protocol == "tls" else None
        host, port = s.address
        kind = socket.SOCK_DGRAM if s.protocol == "udp" else socket.SOCK_STREAM
        self._sock = bind_socket(host, port, kind, s.receive_buffer)
        self.address = self._sock.getsockname()[:2]
        try:
            self._loop = new_loop(s.loop)
        except SourceError:
            self._sock.close()
            raise
        self._loop.set_exception_handler(self._on_loop_error)
        self._handoff = Handoff(
            self.name,
            deliver,
            self._shape,
            max_bytes=s.queue_bytes,
            on_space=self._space_freed,
        )
        self._handoff.start()
        self._thread = threading.Thread(
            target=self._run_loop, name=f"vigil-syslog-{self.name}", daemon=True
        )
        self._thread.start()
        opened = asyncio.run_coroutine_threadsafe(self._open(ctx), self._loop)
        try:
            opened.result(START_TIMEOUT)
        except Exception as e:
            self.stop()
            raise SourceError(f"source {self.name}: cannot start: {e}") from e

    def stop(self) -> None:
        loop, thread, handoff = self._loop, self._thread, self._handoff
        if loop is None or thread is None or handoff is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        left: list[_Batch] = []
        if thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            with contextlib.suppress(Exception):
                left = closing.result(STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(max(0.0, deadline - time.monotonic()))
        for batch in left:
            if not handoff.put(batch, batch.nbytes, _messages(batch), deadline):
                self._dropped += _messages(batch)
        handoff.close(deadline)
        if not thread.is_alive():
            loop.close()
        if self._sock is not None:
            self._sock.close()
        self._loop = self._thread = None

    def stats(self) -> SourceStats:
        st = SourceStats(name=self.name, kind=self.kind, dropped=self._dropped)
        if self._handoff is not None:
            self._handoff.fill(st)
        st.detail.update(
            {
                "protocol": self.settings.protocol,
                "listen": f"{self.address[0]}:{self.address[1]}",
                "received": str(self._received),
                "pending": str(self._pending_lines),
            }
        )
        if self.settings.protocol == "udp" and self._sock is not None:
            drops = kernel_drops(self._sock)
            if drops is not None:
                self._kernel_drops = drops
            st.detail["kernel_drops"] = str(self._kernel_drops)
        else:
            st.detail["connections"] = str(len(self._conns))
            st.detail["connections_total"] = str(self._connections)
            st.detail["connections_refused"] = str(self._refused_connections)
            st.detail["paused"] = str(self._paused).lower()
        if self._loop_errors:
            st.detail["loop_errors"] = str(self._loop_errors)
            st.detail["last_loop_error"] = self._last_loop_error[:200]
        return st

    # -- the loop thread ----------------------------------------------------------------

    def _run_loop(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _open(self, ctx: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        if self.settings.protocol == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), sock=self._sock
            )
            self._udp = transport
        else:
            self._server = await loop.create_server(
                lambda: _Stream(self),
                sock=self._sock,
                ssl=ctx,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ctx else None,
            )
        self._schedule()

    async def _close(self) -> list[_Batch]:
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            if self._sock is not None:
                self._kernel_drops = kernel_drops(self._sock) or self._kernel_drops
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for transport, framer in list(self._conns.items()):
            self._add_framed(transport, framer.close())
            transport.abort()
        self._conns.clear()
        await asyncio.sleep(0)  # let the transports finish closing their sockets
        left = list(self._pending.values())
        self._pending.clear()
        self._pending_lines = self._pending_bytes = 0
        return left

    def _schedule(self) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_later(self.settings.batch_ms / 1000, self._tick)

    def _tick(self) -> None:
        if self._pending and not self._flush() and self.settings.protocol != "udp":
            self._pause()
        self._schedule()

    def _origin(self, addr: Any) -> str:
        origin = self._origins.get(addr)
        if origin is None:
            if len(self._origins) >= _ORIGIN_CACHE:
                self._origins.clear()
            origin = self._origins[addr] = peer_origin(self._scheme, addr)
        return origin

    def _batch(self, origin: str) -> _Batch:
        batch = self._pending.get(origin)
        if batch is None:
            batch = self._pending[origin] = _Batch(origin, self._clock.now())
        return batch

    def _full(self) -> bool:
        return self._pending_lines >= self._max_lines or self._pending_bytes >= BATCH_BYTES

    def _datagram(self, data: bytes, addr: Any) -> None:
        # UDP's hot path, once per datagram: look-ups kept few (bench/syslog_udp.py).
        self._received += 1
        if (
            self._pending_lines >= self._max_lines or self._pending_bytes >= BATCH_BYTES
        ) and not self._flush():
            self._dropped += 1
            return
        origin = self._origins.get(addr) or self._origin(addr)
        batch = self._pending.get(origin) or self._batch(origin)
        size = len(data)
        batch.frames.append(data)
        batch.nbytes += size
        self._pending_lines += 1
        self._pending_bytes += size
        if self._pending_lines >= self._max_lines or self._pending_bytes >= BATCH_BYTES:
            self._flush()

    def _add_framed(self, transport: asyncio.BaseTransport, framed: Any) -> None:
        if not framed.frames and not framed.rejects:
            return
        batch = self._batch(self._origin(transport.get_extra_info("peername")))
        size = sum(map(len, framed.frames))
        batch.frames.extend(framed.frames)
        batch.rejects.extend(framed.rejects)
        batch.nbytes += size
        count = len(framed.frames) + len(framed.rejects)
        self._received += count
        self._pending_lines += count
        self._pending_bytes += size
        if self._full() and not self._flush():
            self._pause()

    def _flush(self) -> bool:
        """Hand every pending batch over; False (and the rest kept) when there is no room."""
        handoff = self._handoff
        assert handoff is not None
        for origin in list(self._pending):
            batch = self._pending[origin]
            if not handoff.offer(batch, batch.nbytes, _messages(batch)):
                return False
            del self._pending[origin]
            self._pending_lines -= _messages(batch)
            self._pending_bytes -= batch.nbytes
        return True

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            for transport in self._conns:
                transport.pause_reading()

    def _space_freed(self) -> None:
        # Called on the delivery thread; wake the loop once, not once per chunk.
        if self._paused and not self._resume_asked and self._loop is not None:
            self._resume_asked = True
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._resume)

    def _resume(self) -> None:
        self._resume_asked = False
        if self._paused and self._flush():
            self._paused = False
            for transport in self._conns:
                transport.resume_reading()

    def _on_loop_error(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # TLS handshakes that fail, peers that reset: the peer's problem, not the loop's;
        # counted, and the last one kept for `vigil status`.
        self._loop_errors += 1
        self._last_loop_error = str(context.get("exception") or context.get("message", ""))

    # -- the delivery thread ------------------------------------------------------------

    def _shape(self, batch: _Batch) -> tuple[RawChunk, int]:
        shaped = shape_frames(batch.frames, self.settings.max_message)
        chunk = RawChunk(
            source=self.name,
            origin=batch.origin,
            lines=shaped.lines,
            received_at=batch.received_at,
            rejects=batch.rejects + shaped.rejects,
        )
        return chunk, shaped.replaced


def _messages(batch: _Batch) -> int:
    return len(batch.frames) + len(batch.rejects)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, source: SyslogSource) -> None:
        # The source's handler itself rather than a method that calls it: one Python
        # call less per datagram.
        self.datagram_received = source._datagram  # type: ignore[method-assign]

    def error_received(self, _exc: Exception) -> None:
        # ICMP errors on a receive-only socket tell nothing about the messages.
        return None


class _Stream(asyncio.Protocol):
    def __init__(self, source: SyslogSource) -> None:
        self._source = source
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(source.settings.max_message)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without deriving from it.
        transport = cast(asyncio.Transport, transport)
        src = self._source
        if len(src._conns) >= src.settings.max_connections:
            src._refused_connections += 1
            transport.abort()
            return
        self._transport = transport
        src._conns[transport] = self._framer
        src._connections += 1
        if src._paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self._transport is None:
            return
        framed = self._framer.feed(data)
        self._source._add_framed(self._transport, framed)
        if framed.broken:
            self._close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, _exc: Exception | None) -> None:
        self._close()

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is None:
            return
        src = self._source
        if src._conns.pop(transport, None) is not None:
            src._add_framed(transport, self._framer.close())
        transport.close()
