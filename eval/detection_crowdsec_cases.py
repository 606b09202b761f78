"""CrowdSec hub test cases as detection expectations: what each case's `scenario.assert`
says must be alerted, and which of them vigil's pack is meant to catch.

A case's `scenario.assert` lists the expected alerts ("overflows") by index: the
scenario (`results[i].Overflow.Alert.GetScenario() == "crowdsecurity/ssh-bf"`) and its
sources (`"203.0.113.7" in results[i].Overflow.GetSources()`, with `GetScope()` `Ip`,
or a user, a process...). Only `Ip` sources are compared: vigil's rules name a
`source.ip`.

Coverage is decided by `SCENARIO_RULES`, a mapping from a CrowdSec scenario to the vigil
rules that detect the same behaviour. A scenario that is not in it is not covered (a
CVE-specific probe, a DoS heuristic, an application log...): its cases are reported
apart, with the rules that alerted anyway.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from eval.crowdsec import vigil_format
from eval.manifest import WEB_ERROR_LINES, Input, in_scope
from eval.runner import SCOPE, classify_lines
from vigil.errors import SourceError

SSH_FAMILY = (
    "ssh_bruteforce",
    "ssh_user_enumeration",
    "ssh_password_spray",
    "ssh_invalid_user_burst",
    "ssh_preauth_probe",
)

# CrowdSec scenario → the vigil rules whose alert on the source counts as detecting it.
SCENARIO_RULES: dict[str, tuple[str, ...]] = {
    # ssh-bf counts every failed authentication of an address (invalid users, failed
    # passwords, pre-auth disconnects of an authenticating user, bad banners); vigil
    # splits that behaviour over its brute-force family.
    "crowdsecurity/ssh-bf": SSH_FAMILY,
    "crowdsecurity/ssh-bf_user-enum": ("ssh_user_enumeration",),
    # Bursts of failed key exchanges: connections that end before authentication.
    "lepresidente/ssh-bad-keyexchange-bf": ("ssh_preauth_probe",),
    "crowdsecurity/iptables-scan-multi_ports": ("port_scan",),
    "firewallservices/pf-scan-multi_ports": ("port_scan",),
    "a1ad/mikrotik-scan-multi_ports": ("port_scan",),
    "crowdsecurity/http-sqli-probbing-detection": ("web_sqli",),
    "crowdsecurity/http-xss-probbing": ("web_xss",),
    "crowdsecurity/http-path-traversal-probing": ("web_path_traversal",),
    "crowdsecurity/http-bad-user-agent": ("web_scanner_user_agent",),
    "crowdsecurity/apache_log4j2_cve-2021-44228": ("web_log4shell",),
    # http-probing: many requests answered 404/403/400 from one source: paths that do
    # not exist, or request lines that are not HTTP.
    "crowdsecurity/http-probing": ("web_404_burst", "web_bad_request_burst"),
    "crowdsecurity/http-generic-bf": ("web_auth_failure_burst", "web_login_bruteforce"),
    "LePresidente/http-generic-401-bf": ("web_auth_failure_burst", "web_login_bruteforce"),
    # CVE scenarios whose exploit *is* a path traversal (`../`, encoded or not) or a shell
    # command in a parameter: the generic rule must see it whatever the product.
    "crowdsecurity/http-cve-2021-41773": ("web_path_traversal", "web_command_injection"),
    "crowdsecurity/http-cve-2021-42013": ("web_path_traversal", "web_command_injection"),
    "crowdsecurity/grafana-cve-2021-43798": ("web_path_traversal",),
    "crowdsecurity/fortinet-cve-2018-13379": ("web_path_traversal",),
    "crowdsecurity/pulse-secure-sslvpn-cve-2019-11510": ("web_path_traversal",),
    "crowdsecurity/f5-big-ip-cve-2020-5902": ("web_path_traversal",),
    "crowdsecurity/netgear_rce": ("web_command_injection",),
    "crowdsecurity/CVE-2022-44877": ("web_command_injection",),
    "crowdsecurity/CVE-2022-46169-cmd": ("web_command_injection",),
    # CVE scenarios whose exploit is PHP code, or a Java template / expression payload.
    "crowdsecurity/thinkphp-cve-2018-20062": ("web_php_injection",),
    "crowdsecurity/vmware-cve-2022-22954": ("web_template_injection",),
    "crowdsecurity/CVE-2022-26134": ("web_template_injection",),
    "crowdsecurity/spring4shell_cve-2022-22965": ("web_template_injection",),
    # Text4Shell: Commons Text interpolation, the `${prefix:...}` lookups of Log4Shell.
    "crowdsecurity/CVE-2022-42889": ("web_log4shell", "web_template_injection"),
}

_SCENARIO = re.compile(r'results\[(\d+)\]\.Overflow\.Alert\.GetScenario\(\) == "(.*)"')
_SOURCE = re.compile(r'^"(.*)" in results\[(\d+)\]\.Overflow\.GetSources\(\)')
_SCOPE = re.compile(r'results\[(\d+)\]\.Overflow\.Sources\["(.*)"\]\.GetScope\(\) == "(.*)"')


@dataclass
class Expected:
    """One expected alert of a case."""

    scenario: str
    # Source value → scope ("Ip", "username", ...).
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ips(self) -> list[str]:
        return sorted(v for v, scope in self.sources.items() if scope == "Ip")

    @property
    def rules(self) -> tuple[str, ...]:
        return SCENARIO_RULES.get(self.scenario, ())


@dataclass
class Case:
    name: str
    log: Path | None
    log_type: str
    # The vigil format of the log (None: no vigil parser for it).
    format: str | None
    # Lines of the log in that format (a web access log may hold error-log lines).
    in_scope_lines: int = 0
    # Their text: an expected address seen only on other lines (an Apache error-log line
    # inside an access log) is one no access-log reader can be asked to find.
    in_scope_text: str = ""
    expected: list[Expected] = field(default_factory=list)

    @property
    def parsed(self) -> bool:
        return self.format is not None and self.in_scope_lines > 0

    def covered(self, pack: Collection[str]) -> list[Expected]:
        """The expected alerts with a source address that a rule of `pack` (names) is
        meant to raise, by `SCENARIO_RULES`, and that stands on an in-scope line."""
        return [
            e
            for e in self.expected
            if set(e.rules) & set(pack) and any(self.visible(ip) for ip in e.ips)
        ]

    def visible(self, ip: str) -> bool:
        return ip in self.in_scope_text

    def out_of_sight(self) -> list[str]:
        """Expected addresses that stand on no in-scope line."""
        return sorted({ip for e in self.expected for ip in e.ips if not self.visible(ip)})


def read_assertions(text: str) -> list[Expected]:
    """The expected alerts of a `scenario.assert`, in result order."""
    scenarios: dict[int, str] = {}
    sources: dict[int, dict[str, str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if (m := _SCENARIO.search(line)) is not None:
            scenarios[int(m[1])] = m[2]
        elif (m := _SOURCE.match(line)) is not None:
            sources.setdefault(int(m[2]), {}).setdefault(m[1], "")
        elif (m := _SCOPE.search(line)) is not None:
            sources.setdefault(int(m[1]), {})[m[2]] = m[3]
    return [
        Expected(scenarios.get(i, "(no scenario asserted)"), sources.get(i, {}))
        for i in sorted(set(scenarios) | set(sources))
    ]


def read_case(test_dir: Path) -> Case | None:
    """A test directory as a case, or None when it has no usable config or log."""
    config_path = test_dir / "config.yaml"
    if not config_path.is_file():
        return None
    try:
        config: Any = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    log_name = str(config.get("log_file") or "")
    log = test_dir / log_name if log_name else None
    if log is None or not log.is_file():
        log = None
    log_type = str(config.get("log_type") or "")
    parsers = [str(p).rsplit("/", 1)[-1].removesuffix(".yaml") for p in config.get("parsers") or []]
    case = Case(test_dir.name, log, log_type, vigil_format(log_type, parsers))
    assertions = test_dir / "scenario.assert"
    if assertions.is_file():
        case.expected = read_assertions(assertions.read_text(encoding="utf-8"))
    if case.format is not None and log is not None:
        case.in_scope_text = _in_scope_text(case, log)
        case.in_scope_lines = case.in_scope_text.count("\n")
    return case


def _in_scope_text(case: Case, log: Path) -> str:
    """Non-blank lines of the log that are in the case's format, as the parse-coverage
    evaluation decides it (error-log lines inside a web access log are not), each ended
    by a newline."""
    assert case.format is not None
    rules = WEB_ERROR_LINES if case.format == "apache" else ()
    inp: Input = in_scope("crowdsec_hub_tests", log, case.name, case.log_type, case.format, rules)
    try:
        lines = classify_lines(inp)
    except SourceError:
        return ""
    kept = lines.filter(~lines.get_column("text").str.contains(r"^\s*$") & pl.col(SCOPE).is_null())
    return "".join(f"{t}\n" for t in kept.get_column("text").to_list())


def read_cases(root: Path) -> list[Case]:
    cases = (read_case(p) for p in sorted(root.iterdir()) if p.is_dir())
    return [c for c in cases if c is not None]
