"""Commands on a remote host over SSH: `SshRunner` (its settings: `ssh_settings`).

`SshRunner` is a `respond.runner.Runner`: the nftables and iptables backends, the
operator's argv templates and the account responder run through it unchanged.

Security, in order of what an attacker would try:
- The host is who it says: its key must be in the configured known_hosts file (never
  the user's or the system's); an unknown or changed key refuses the connection before
  authentication, so nothing is sent and nothing runs.
- vigil proves who it is with a key only: no password, no keyboard-interactive, no agent
  unless the operator turns it on.
- What runs is exactly the argument list built from validated values: SSH carries one
  command string, which the remote login shell splits into words. `shlex.join` quotes
  every argument that holds anything beyond `[A-Za-z0-9_@%+=:,./-]` in single quotes
  (a quote inside becomes `'"'"'`), and a POSIX shell expands nothing between single
  quotes, so each list element arrives as exactly one argument. Control characters
  (newline, NUL...) are refused outright: no shell needs them in a firewall command, and
  csh-family shells would not keep a newline inside quotes. The remote account's login
  shell must therefore be a POSIX shell (sh, bash, dash, busybox ash), as on every
  Linux firewall.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import paramiko
from paramiko.ssh_exception import IncompatiblePeer

from vigil.errors import ResponderError
from vigil.respond.runner import Completed

# Anything a terminal or a shell could read as more than text inside one argument.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What one remote command may print: a firewall listing of a large set is a few MB.
MAX_OUTPUT = 64 * 1024 * 1024


def remote_command(argv: Sequence[str]) -> str:
    """The one string SSH sends for `argv` (see the module docstring for why it is safe)."""
    if not argv:
        raise ResponderError("refusing to run an empty command")
    for arg in argv:
        if not isinstance(arg, str) or _CONTROL.search(arg):
            raise ResponderError(f"refusing to send an argument with control characters: {arg!r}")
    return shlex.join(argv)


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.key = key


class _RejectUnknown(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, with the offered key kept for the error message."""

    def missing_host_key(
        self, _client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> NoReturn:
        raise _UnknownHostKey(hostname, key)


class SshRunner:
    """Runs argument lists on one remote host, reusing one connection.

    `retries` more attempts follow a failed connection, `backoff` times 1, 2, 4... seconds
    apart (`sleep` is injectable so tests need not wait). A command that ran and failed is
    never retried, nor is a connection lost while a command ran (it may have taken
    effect): the caller sees a ResponderError and its action record says so. `timeout`
    bounds connecting and each wait for the remote side; `command_timeout` (default:
    `timeout`) each wait for a command's output.
    """

    def __init__(
        self,
        host: str,
        port: int = 22,
        user: str = "root",
        key_file: Path | None = None,
        known_hosts: Path | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        *,
        prefix: Sequence[str] = (),
        allow_agent: bool = False,
        command_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if key_file is None and not allow_agent:
            raise ResponderError(f"ssh {host}: needs a key file (or allow_agent)")
        if known_hosts is None:
            raise ResponderError(f"ssh {host}: needs a known_hosts file to verify the host key")
        self.host = host
        self.port = port
        self.user = user
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.timeout = timeout
        self.command_timeout = command_timeout if command_timeout is not None else timeout
        self.retries = retries
        self.backoff = backoff
        self.prefix = list(prefix)
        self.allow_agent = allow_agent
        self._sleep = sleep
        self._client: paramiko.SSHClient | None = None
        self._pkey: paramiko.PKey | None = None
        # One connection serves one command at a time.
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"ssh {self.user}@{self.host}:{self.port}"

    def run(self, argv: list[str], stdin: str | None = None, *, check: bool = True) -> Completed:
        if not argv:
            raise ResponderError(f"{self.label}: refusing to run an empty command")
        command = remote_command([*self.prefix, *argv])
        with self._lock:
            channel = self._open_channel()
            try:
                done = self._execute(channel, command, stdin)
            except TimeoutError as e:
                self._drop()
                raise ResponderError(
                    f"{self.label}: {argv[0]} did not answer within {self.command_timeout:g} s"
                ) from e
            except (OSError, EOFError, paramiko.SSHException) as e:
                self._drop()
                raise ResponderError(
                    f"{self.label}: connection lost while {argv[0]} ran ({_reason(e)}); "
                    "not retried, it may have taken effect"
                ) from e
            finally:
                channel.close()
        if check and done.returncode != 0:
            raise ResponderError(
                f"{self.label}: {' '.join(argv[:3])} failed (exit {done.returncode}): "
                f"{_one_line(done.stderr) or 'no message'}"
            )
        return done

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> SshRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, channel: paramiko.Channel, command: str, stdin: str | None) -> Completed:
        channel.settimeout(self.command_timeout)
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin.encode())
        # EOF on stdin either way: a command that reads it must not wait for more.
        channel.shutdown_write()
        # stdout first, then stderr: paramiko buffers stderr meanwhile; a command would
        # only stall if it wrote more than the channel window (2 MB) to stderr alone.
        stdout = _read_all(channel.recv, self.label)
        stderr = _read_all(channel.recv_stderr, self.label)
        if not channel.status_event.wait(self.command_timeout):
            raise TimeoutError("no exit status")
        return Completed(
            channel.exit_status,
            stdout.decode("utf-8", errors="replace"),
            stderr.decode("utf-8", errors="replace"),
        )

    def _open_channel(self) -> paramiko.Channel:
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                if self._client is None:
                    self._client = self._connect()
                transport = self._client.get_transport()
                if transport is None or not transport.is_active():
                    raise paramiko.SSHException("connection closed")
                return transport.open_session(timeout=self.timeout)
            except (OSError, EOFError, paramiko.SSHException) as e:
                # The command has not started: connecting again is safe.
                self._drop()
                last = e
        raise ResponderError(
            f"{self.label}: cannot connect ({_reason(last)}) after {self.retries + 1} attempts",
            final=True,
        )

    def _connect(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(str(self.known_hosts))
        except (OSError, paramiko.SSHException) as e:
            raise ResponderError(
                f"{self.label}: cannot read known_hosts {self.known_hosts}: {_reason(e)}"
            ) from e
        client.set_missing_host_key_policy(_RejectUnknown())
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.user,
                pkey=self._key(),
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                allow_agent=self.allow_agent,
                look_for_keys=False,
            )
        except _UnknownHostKey as e:
            client.close()
            raise ResponderError(
                f"{self.label}: host key {e.key.get_name()} {e.key.fingerprint} of "
                f"{e.hostname} is not in {self.known_hosts}; refusing to connect",
                final=True,
            ) from None
        except paramiko.BadHostKeyException as e:
            client.close()
            raise ResponderError(
                f"{self.label}: host key of {e.hostname} does not match {self.known_hosts} "
                f"(offered {e.key.get_name()} {e.key.fingerprint}); refusing to connect",
                final=True,
            ) from None
        except paramiko.AuthenticationException as e:
            client.close()
            raise ResponderError(
                f"{self.label}: key authentication failed ({_reason(e)})", final=True
            ) from None
        except IncompatiblePeer as e:
            client.close()
            raise ResponderError(f"{self.label}: no SSH algorithm in common ({e})") from None
        except BaseException:
            client.close()
            raise
        return client

    def _key(self) -> paramiko.PKey | None:
        if self.key_file is None or self._pkey is not None:
            return self._pkey
        try:
            self._pkey = paramiko.PKey.from_path(self.key_file)
        except paramiko.PasswordRequiredException:
            raise ResponderError(
                f"{self.label}: key {self.key_file} is encrypted; vigil needs a key without "
                "a passphrase (or allow_agent)"
            ) from None
        except (OSError, ValueError, paramiko.SSHException) as e:
            raise ResponderError(
                f"{self.label}: cannot read key {self.key_file}: {_reason(e)}"
            ) from None
        return self._pkey

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _read_all(recv: Callable[[int], bytes], label: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := recv(65536):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise ResponderError(f"{label}: a command printed more than {MAX_OUTPUT} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _reason(e: BaseException | None) -> str:
    if e is None:
        return "no reason given"
    if isinstance(e, TimeoutError):
        return "timed out"
    text = str(e).strip() or type(e).__name__
    return _one_line(text)


def _one_line(text: str, limit: int = 400) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    joined = " | ".join(lines)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
