"""The explicit registry of line parsers. A test checks every parser class is here."""

from __future__ import annotations

from collections.abc import Mapping

from vigil.errors import ConfigError, UsageError
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


def check_parser_options(
    options: Mapping[str, str], per_format: Mapping[str, Mapping[str, str]], forced: str | None
) -> None:
    """UsageError for an option no parser that could read the input takes (a typo), or a
    value the parser that takes it cannot use. `options` (the command line's) apply to
    whichever parser reads an input (`--format`: that one only); `per_format` (the
    configuration's `parsers:`) to the named format's, and their faults are ConfigErrors."""
    candidates = [get_parser(forced)] if forced else list(PARSERS.values())
    for key in options:
        if not any(p.takes_option(key) for p in candidates):
            raise UsageError(f"unknown parser option {key!r}; {_known(candidates)}")
    for cls in candidates:
        cls.check_options({k: v for k, v in options.items() if cls.takes_option(k)})
    for name, given in per_format.items():
        cls = get_parser(name)
        try:
            for key in given:
                if not cls.takes_option(key):
                    raise UsageError(f"unknown option {key!r}; {_known([cls])}")
            cls.check_options(given)
        except UsageError as e:
            raise ConfigError(f"parsers.{name} in the configuration: {e}") from None


def _known(parsers: list[type[LineParser]]) -> str:
    takes = [f"{p.name}: {_names(p)}" for p in parsers if p.option_names]
    return "options are " + "; ".join(takes) if takes else "this format takes no options"


def _names(parser: type[LineParser]) -> str:
    return ", ".join(n + "<name>" if n.endswith(".") else n for n in sorted(parser.option_names))
