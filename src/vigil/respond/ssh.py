"""The `ssh` responder: bans on a remote firewall over SSH.

The remote host runs nftables or iptables/ipset (the same backend classes as the local
responders, driven through an `SshRunner`), or is another device the operator reaches
with argv templates (`backend: command`, placeholders as in `respond.command`). How the
connection is made safe (host key, key-only login, quoting) is told in
`respond.ssh_runner`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from vigil.errors import ConfigError, ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.command import ArgvTemplate, FixedArgv, TemplateBackend
from vigil.respond.firewall import FirewallBackend, block_network
from vigil.respond.iptables import IptablesBackend, IptablesSettings
from vigil.respond.model import Action, ActionKind
from vigil.respond.nftables import NftablesBackend, NftablesSettings
from vigil.respond.ssh_settings import SshConnection

__all__ = ["SshResponder", "SshSettings"]


class SshSettings(SshConnection):
    backend: Literal["nftables", "iptables", "command"] = Field(
        default="nftables", description="what the remote host is"
    )
    nftables: NftablesSettings | None = Field(
        default=None, description="the nftables backend's settings (netns: on the remote host)"
    )
    iptables: IptablesSettings | None = Field(
        default=None, description="the iptables backend's settings (netns: on the remote host)"
    )
    ban: ArgvTemplate | None = Field(default=None, description="backend command: argv to ban")
    unban: ArgvTemplate | None = Field(default=None, description="backend command: argv to unban")
    list_argv: FixedArgv | None = Field(
        default=None, alias="list", description="backend command: prints one banned target a line"
    )

    @model_validator(mode="after")
    def _backend_parts(self) -> SshSettings:
        given = {
            name
            for name, value in (
                ("nftables", self.nftables),
                ("iptables", self.iptables),
                ("ban", self.ban),
                ("unban", self.unban),
                ("list", self.list_argv),
            )
            if value is not None
        }
        allowed = {"command": {"ban", "unban", "list"}}.get(self.backend, {self.backend})
        if given - allowed:
            wrong = ", ".join(sorted(given - allowed))
            raise ValueError(f"{wrong}: not a setting of backend {self.backend}")
        if self.backend == "command" and self.ban is None:
            raise ValueError("backend command needs ban: (an argv template)")
        return self


class SshResponder:
    """`type: ssh`: bans on a remote firewall (nftables, iptables/ipset, or the operator's
    commands for other devices), one reused SSH connection per responder."""

    id: ClassVar[str] = "ssh"
    kind: ClassVar[ActionKind] = ActionKind.BLOCK
    Settings: ClassVar[type[BaseModel]] = SshSettings

    def __init__(
        self,
        settings: BaseModel,
        context: ResponderContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(settings, SshSettings):
            raise ConfigError(f"ssh needs SshSettings, not {type(settings).__name__}")
        self.settings = settings
        self.backend: FirewallBackend | TemplateBackend
        if settings.backend == "nftables":
            nft = settings.nftables or NftablesSettings()
            self.runner = settings.runner(
                netns=nft.netns, command_timeout=nft.timeout_seconds, sleep=sleep
            )
            self.backend = NftablesBackend(nft, self.runner, clock=context.clock)
        elif settings.backend == "iptables":
            ipt = settings.iptables or IptablesSettings()
            self.runner = settings.runner(
                netns=ipt.netns, command_timeout=ipt.timeout_seconds, sleep=sleep
            )
            self.backend = IptablesBackend(ipt, self.runner, clock=context.clock)
        else:
            if settings.ban is None:
                raise ConfigError("ssh backend command needs ban: (an argv template)")
            self.runner = settings.runner(sleep=sleep)
            self.backend = TemplateBackend(
                settings.ban, settings.unban, settings.list_argv, self.runner, "address"
            )

    def act(self, action: Action) -> None:
        # The firewall's own guard (a block, never wider than the backend allows) holds
        # for operator commands too.
        block_network(action, self.id)
        self._on_host(self.backend.act, action)

    def revert(self, action: Action) -> None:
        block_network(action, self.id)
        self._on_host(self.backend.revert, action)

    def check(self) -> set[str] | None:
        try:
            return self.backend.check()
        except ResponderError as e:
            raise self._named(e) from None

    def close(self) -> None:
        self.runner.close()

    def _on_host(self, verb: Callable[[Action], None], action: Action) -> None:
        try:
            verb(action)
        except ResponderError as e:
            raise self._named(e) from None

    def _named(self, error: ResponderError) -> ResponderError:
        """The backend's error with the host it came from."""
        if error.message.startswith(self.runner.label):
            return error
        return ResponderError(f"{self.runner.label}: {error.message}")
