"""Every responder vigil ships, by its `type:` in vigil.yaml. Explicit on purpose: a
test checks that each responder module is listed here."""

from __future__ import annotations

from vigil.errors import ConfigError
from vigil.respond.account import AccountResponder
from vigil.respond.base import ResponderFactory
from vigil.respond.command import CommandResponder
from vigil.respond.iptables import IptablesResponder
from vigil.respond.nftables import NftablesResponder
from vigil.respond.ssh import SshResponder
from vigil.respond.webhook import WebhookResponder

RESPONDERS: dict[str, ResponderFactory] = {
    NftablesResponder.id: NftablesResponder,
    IptablesResponder.id: IptablesResponder,
    SshResponder.id: SshResponder,
    AccountResponder.id: AccountResponder,
    CommandResponder.id: CommandResponder,
    WebhookResponder.id: WebhookResponder,
}


def get_responder(type_: str) -> ResponderFactory:
    try:
        return RESPONDERS[type_]
    except KeyError:
        known = ", ".join(sorted(RESPONDERS)) or "none"
        raise ConfigError(f"unknown responder type {type_!r} (known: {known})") from None
