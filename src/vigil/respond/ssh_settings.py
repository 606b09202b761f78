"""How vigil reaches a remote host over SSH: the settings of the `ssh` responder's
connection and of `account`'s `ssh:` block.

Kept apart from `ssh_runner` so that loading a configuration that names an SSH host
validates these settings without importing paramiko (~0.15 s): the runner, and paramiko
with it, are imported when a responder first connects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from vigil.respond.ssh_runner import SshRunner

# A host name or address as SSH takes it; never an option.
HOST_PATTERN = r"^[A-Za-z0-9_.:\[\]%]+$"
LOGIN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$"


class SshConnection(BaseModel):
    """How to reach and log in to a remote host (the `ssh` responder's connection, and
    `account`'s `ssh:` block)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(pattern=HOST_PATTERN, description="host name or address")
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(default="root", pattern=LOGIN_PATTERN, description="login name")
    key: Path | None = Field(default=None, description="private key file (no passphrase)")
    known_hosts: Path = Field(description="known_hosts file holding the host's key")
    timeout: float = Field(
        default=10.0, gt=0, le=300, description="seconds for connecting and each remote wait"
    )
    retries: int = Field(default=3, ge=0, le=10, description="more connection attempts")
    backoff: float = Field(
        default=1.0, ge=0, le=60, description="seconds before the 2nd attempt (then doubling)"
    )
    allow_agent: bool = Field(default=False, description="also offer the ssh-agent's keys")
    sudo: bool = Field(default=False, description="run commands with `sudo -n`")

    @model_validator(mode="after")
    def _has_credentials(self) -> SshConnection:
        if self.key is None and not self.allow_agent:
            raise ValueError("key: is required (vigil logs in with a key only)")
        return self

    def runner(
        self,
        *,
        netns: str | None = None,
        command_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SshRunner:
        from vigil.respond.ssh_runner import SshRunner  # noqa: PLC0415 - paramiko, when used

        prefix = ["sudo", "-n", "--"] if self.sudo else []
        if netns is not None:
            prefix += ["ip", "netns", "exec", netns]
        return SshRunner(
            self.host,
            self.port,
            self.user,
            self.key,
            self.known_hosts,
            self.timeout,
            self.retries,
            self.backoff,
            prefix=prefix,
            allow_agent=self.allow_agent,
            command_timeout=command_timeout,
            sleep=sleep,
        )
