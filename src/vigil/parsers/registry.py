"""The explicit registry of line parsers. A test checks every parser class is here."""

from __future__ import annotations

from vigil.errors import UsageError
from vigil.parsers.apache import ApacheParser
from vigil.parsers.base import LineParser
from vigil.parsers.csvlog import CsvParser
from vigil.parsers.firewall import FirewallParser
from vigil.parsers.jsonl import JsonlParser
from vigil.parsers.netfilter import NetfilterParser
from vigil.parsers.sshd import SshdParser
from vigil.parsers.syslog import SyslogParser

PARSERS: dict[str, type[LineParser]] = {
    cls.name: cls
    for cls in (
        FirewallParser,
        ApacheParser,
        SshdParser,
        NetfilterParser,
        SyslogParser,
        JsonlParser,
        CsvParser,
    )
}


def get_parser(name: str) -> type[LineParser]:
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise UsageError(f"unknown format {name!r}; known formats: {known}") from None
