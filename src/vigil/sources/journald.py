"""The systemd journal as a live source, through `journalctl --follow --output=json`.

Entries become syslog lines (`journald_entries`), not JSON lines, because vigil's syslog
family of parsers (sshd, PAM, sudo, su, cron, kernel packet logs) is what understands
these programs' messages: the same sshd message gives the same events whether it came
from /var/log/auth.log, a syslog relay or the journal. As JSON lines it would reach the
`jsonl` parser, which knows no sshd.

Resuming: after each delivered chunk the cursor of its last entry is written (atomically)
to the cursor file, and the next start passes it as `--after-cursor`. journalctl's own
`--cursor-file` is not used because it saves the cursor of what journalctl *printed*,
which after a crash can be ahead of what vigil consumed. With no saved cursor,
`start_at` decides: `end` (only new entries) or `beginning` (everything stored).

`deliver` is called from the reader thread and may block: journalctl then blocks on its
full pipe and the journal keeps the entries, so nothing is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import shutil
import subprocess
import threading
import time
from pathlib import Path

from vigil.clock import Clock, SystemClock
from vigil.errors import SourceError
from vigil.sources.journald_entries import FIELDS, entries_to_lines
from vigil.sources.live import Deliver, RawChunk, SourceStats
from vigil.sources.net_settings import JournaldSettings

log = logging.getLogger(__name__)

NO_JOURNAL = "No journal files were found"
PROBE_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
READ_BYTES = 1 << 20


def default_cursor_path(state_dir: Path, name: str) -> Path:
    return state_dir / "journald" / f"{name}.cursor"


class JournaldSource:
    """A live source of journal entries, as syslog lines."""

    kind = "journald"

    def __init__(
        self,
        name: str,
        settings: JournaldSettings,
        clock: Clock | None = None,
        *,
        cursor_path: Path | None = None,
        journalctl: str = "journalctl",
    ) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock or SystemClock()
        self._cursor_path = cursor_path
        self._journalctl = journalctl
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stats = SourceStats(name=name, kind=self.kind)
        self._replaced = 0
        self._error = ""

    # -- LiveSource ---------------------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        if self._thread is not None:
            raise SourceError(f"source {self.name} is already started")
        exe = shutil.which(self._journalctl)
        if exe is None:
            raise SourceError(
                f"source {self.name}: journalctl not found: this host has no systemd journal "
                "(read its log files or receive its syslog instead)"
            )
        position = self._position(exe)
        argv = [
            exe,
            "--follow",
            "--output=json",
            "--all",
            "--no-pager",
            "--output-fields=" + ",".join(f for f in FIELDS if not f.startswith("__")),
            *self._selection(),
            *position,
        ]
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as e:
            raise SourceError(f"source {self.name}: cannot run journalctl: {e}") from e
        self._stopping = False
        self._thread = threading.Thread(
            target=self._read, args=(deliver,), name=f"vigil-journald-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        proc, thread = self._proc, self._thread
        if proc is None or thread is None:
            return
        self._stopping = True
        deadline = time.monotonic() + STOP_TIMEOUT
        if proc.poll() is None:
            proc.terminate()
        thread.join(max(0.0, deadline - time.monotonic()))
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
        thread.join(max(0.0, deadline - time.monotonic()))
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        self._proc = self._thread = None

    def stats(self) -> SourceStats:
        st = SourceStats(
            name=self.name,
            kind=self.kind,
            lines=self._stats.lines,
            bytes=self._stats.bytes,
            rejected=self._stats.rejected,
            last_received=self._stats.last_received,
        )
        st.detail["replaced_utf8"] = str(self._replaced)
        st.detail["running"] = str(self._proc is not None and self._proc.poll() is None).lower()
        if self._error:
            st.detail["error"] = self._error
        return st

    # -- journalctl ---------------------------------------------------------------------

    def _selection(self) -> list[str]:
        s = self.settings
        args = [f"--directory={s.directory}"] if s.directory is not None else []
        args += [f"--unit={unit}" for unit in s.units]
        args += [f"--identifier={ident}" for ident in s.identifiers]
        return args

    def _position(self, exe: str) -> list[str]:
        """Where to start: after the saved cursor, else `start_at`. Checks first that
        journalctl can read a journal at all, so a host without one fails at start.

        `end` starts after the newest entry found now, rather than `--lines=0`, so an
        entry written while journalctl starts up is not taken for an old one."""
        cursor = self._load_cursor()
        if cursor is not None:
            error, _ = self._probe(exe, ["--lines=0", "--after-cursor", cursor])
            if error is None:
                return ["--after-cursor", cursor]
            log.warning("source %s: saved cursor not usable (%s); using start_at", self.name, error)
        # The plain output is the one that reports a missing journal; JSON is silent.
        error, _ = self._probe(exe, ["--lines=0"])
        if error is None:
            error, newest = self._probe(exe, ["--lines=1", "--output=json", "--output-fields=_PID"])
        if error is not None:
            raise SourceError(f"source {self.name}: {error}")
        if self.settings.start_at == "end" and newest is not None:
            return ["--after-cursor", newest]
        return ["--no-tail"]

    def _probe(self, exe: str, extra: list[str]) -> tuple[str | None, str | None]:
        """(why journalctl cannot be used, or None; the cursor of the entry it printed)."""
        try:
            done = subprocess.run(
                [exe, "--no-pager", *self._selection(), *extra],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"cannot run journalctl: {e}", None
        stderr = done.stderr.decode("utf-8", "replace").strip()
        if NO_JOURNAL in stderr:
            return (
                "journald: no journal files were found (is systemd-journald running, and may "
                "this user read the journal? add it to the systemd-journal group)"
            ), None
        if done.returncode != 0:
            why = stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"
            return f"journalctl failed: {why}", None
        return None, entries_to_lines(done.stdout.split(b"\n")).cursor

    def _load_cursor(self) -> str | None:
        if self._cursor_path is None:
            return None
        try:
            cursor = self._cursor_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return cursor or None

    def _save_cursor(self, cursor: str) -> None:
        path = self._cursor_path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(cursor + "\n", encoding="ascii")
            os.replace(tmp, path)
        except OSError as e:
            self._error = f"cannot save the cursor: {e}"

    # -- the reader thread --------------------------------------------------------------

    def _read(self, deliver: Deliver) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        wait = self.settings.batch_ms / 1000
        pending: list[bytes] = []
        partial = b""
        first_at = 0.0
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                timeout = max(0.0, first_at + wait - time.monotonic()) if pending else None
                if sel.select(timeout):
                    data = os.read(fd, READ_BYTES)
                    if not data:
                        break
                    parts = (partial + data).split(b"\n")
                    partial = parts.pop()
                    if parts and not pending:
                        first_at = time.monotonic()
                    pending.extend(parts)
                    if len(pending) < self.settings.batch_lines:
                        continue
                if pending:
                    self._deliver(deliver, pending)
                    pending = []
        self._deliver(deliver, [*pending, partial])
        self._ended(proc)

    def _deliver(self, deliver: Deliver, entries: list[bytes]) -> None:
        converted = entries_to_lines(entries)
        if not converted.lines and not converted.rejects:
            return
        chunk = RawChunk(
            source=self.name,
            origin="journald",
            lines=converted.lines,
            received_at=self._clock.now(),
            rejects=converted.rejects,
        )
        try:
            deliver(chunk)
        except Exception:
            log.exception("source %s: a chunk could not be delivered", self.name)
            self._stats.dropped += len(converted.lines) + len(converted.rejects)
            return
        st = self._stats
        st.lines += len(chunk.lines)
        st.rejected += len(chunk.rejects)
        st.bytes += sum(map(len, entries))
        st.last_received = chunk.received_at
        self._replaced += converted.replaced
        if converted.cursor is not None:
            self._save_cursor(converted.cursor)

    def _ended(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        if self._stopping:
            return
        stderr = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
        self._error = f"journalctl exited with {code}: {stderr[-500:]}"
        log.error("source %s: %s", self.name, self._error)
