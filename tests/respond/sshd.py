"""A real OpenSSH server on loopback for the response tests.

`start_sshd(workdir)` runs `/usr/sbin/sshd -D -e -f <config>` on a free 127.0.0.1 port
with a fresh ed25519 host key, one authorized client key and a known_hosts file that
names the host key; `stop_sshd` ends it. The `sshd` fixture (module scope) does both;
import it into a test module to use it: `from tests.respond.sshd import sshd`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.respond.ssh_runner import SshRunner

SSHD = "/usr/sbin/sshd"
# sshd (as root) insists on its privilege separation directory; the Debian package makes
# it when the service starts, which a test machine may never have done.
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT = 5.0


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_public: str
    workdir: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def runner(self, **options: Any) -> SshRunner:
        """An SshRunner for this server (options as SshRunner's keywords)."""
        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "key_file": self.client_key,
            "known_hosts": self.known_hosts,
            "timeout": 5.0,
            "retries": 0,
        }
        settings.update(options)
        return SshRunner(**settings)

    def accepted_commands(self) -> list[str]:
        """The sshd log lines that say a session ran a command."""
        return [line for line in self.log if "Starting session: command" in line]


def make_key(path: Path) -> str:
    """Write a new ed25519 private key (mode 0600, OpenSSH format) to `path`; return
    its public key line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def known_hosts_line(host: str, port: int, public: str) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {public}\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(workdir: Path, port: int) -> Path:
    path = workdir / "sshd_config"
    path.write_text(
        f"ListenAddress 127.0.0.1:{port}\n"
        f"HostKey {workdir / 'host_ed25519'}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        "PidFile none\n"
        # PAM answers the account checks, so a root whose password is locked ('!') can
        # still log in with a key, as on a real firewall.
        "UsePAM yes\n"
        # The test's files sit under /tmp, which is world-writable.
        "StrictModes no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "UseDNS no\n"
        "LoginGraceTime 10\n"
        "LogLevel VERBOSE\n"
    )
    return path


def _pump(stream: Any, log: list[str], lines: queue.Queue[str | None]) -> None:
    # stop_sshd closes the stream if a session outlives sshd: the log ends there.
    with contextlib.suppress(OSError, ValueError):
        for line in stream:
            log.append(line.rstrip("\n"))
            lines.put(line)
    lines.put(None)


def start_sshd(workdir: Path, *, user: str = "root", attempts: int = 5) -> SshServer:
    """Start sshd in `workdir` (which keeps its keys, config and known_hosts) and return
    once it listens."""
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    host_public = make_key(workdir / "host_ed25519")
    client_public = make_key(workdir / "client_ed25519")
    (workdir / "authorized_keys").write_text(client_public + "\n")
    failures: list[str] = []
    for _ in range(attempts):
        port = _free_port()
        config = _config(workdir, port)
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(known_hosts_line("127.0.0.1", port, host_public))
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = SshServer(
            host="127.0.0.1",
            port=port,
            user=user,
            client_key=workdir / "client_ed25519",
            known_hosts=known_hosts,
            host_public=host_public,
            workdir=workdir,
            process=process,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        server.reader = threading.Thread(
            target=_pump, args=(process.stderr, server.log, lines), daemon=True
        )
        server.reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if "Server listening on" in line:
                return server
        stop_sshd(server)
        # Another process may have taken the port between our probe and sshd's bind.
        failures.append(" / ".join(server.log[-3:]) or "no output")
    raise RuntimeError(f"sshd did not start: {failures}")


def stop_sshd(server: SshServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    # The log ends when sshd and its sessions have all gone.
    if server.reader is not None:
        server.reader.join(timeout=5)
    if server.process.stderr is not None:
        server.process.stderr.close()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A running sshd on loopback, stopped after the module's tests."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        stop_sshd(server)
