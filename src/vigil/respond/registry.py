"""Every responder vigil ships, by its `type:` in vigil.yaml. Explicit on purpose: a
test checks that each responder module is listed here.

A responder's module is imported the first time its type is asked for: loading the
configuration validates only the responders it names, so a `vigil analyze` whose config
has an nftables responder never imports the SSH responder's paramiko (0.15 s).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, cast

from vigil.errors import ConfigError

if TYPE_CHECKING:
    from vigil.respond.base import ResponderFactory

# type → (module, class)
_WHERE: dict[str, tuple[str, str]] = {
    "nftables": ("vigil.respond.nftables", "NftablesResponder"),
    "iptables": ("vigil.respond.iptables", "IptablesResponder"),
    "ssh": ("vigil.respond.ssh", "SshResponder"),
    "account": ("vigil.respond.account", "AccountResponder"),
    "command": ("vigil.respond.command", "CommandResponder"),
    "webhook": ("vigil.respond.webhook", "WebhookResponder"),
}


class LazyRegistry(MutableMapping[str, "ResponderFactory"]):
    """A dict of responder classes by type whose modules load on first access. Writable,
    so a test (or a plugin loader) can add a type."""

    def __init__(self, where: dict[str, tuple[str, str]]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, ResponderFactory] = {}

    def __getitem__(self, type_: str) -> ResponderFactory:
        if type_ not in self._loaded:
            module, name = self._where[type_]
            cls = getattr(importlib.import_module(module), name)
            self._loaded[type_] = cast("ResponderFactory", cls)
        return self._loaded[type_]

    def __setitem__(self, type_: str, factory: ResponderFactory) -> None:
        self._loaded[type_] = factory

    def __delitem__(self, type_: str) -> None:
        found = self._where.pop(type_, None) is not None
        found = self._loaded.pop(type_, None) is not None or found
        if not found:
            raise KeyError(type_)

    def __contains__(self, type_: object) -> bool:
        return type_ in self._where or type_ in self._loaded

    def __iter__(self) -> Iterator[str]:
        yield from self._where
        yield from (t for t in self._loaded if t not in self._where)

    def __len__(self) -> int:
        return len(self._where.keys() | self._loaded.keys())


RESPONDERS: MutableMapping[str, ResponderFactory] = LazyRegistry(_WHERE)


def get_responder(type_: str) -> ResponderFactory:
    try:
        return RESPONDERS[type_]
    except KeyError:
        known = ", ".join(sorted(RESPONDERS)) or "none"
        raise ConfigError(f"unknown responder type {type_!r} (known: {known})") from None
