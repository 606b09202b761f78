"""The manifest of `crowdsec_hub_tests`: one input per test directory's log file.

Each test's `config.yaml` names its `log_file`, its `log_type` (what CrowdSec's acquisition
calls the source: `syslog`, `nginx`, `apache2`, ...) and the CrowdSec parsers it loads. The
log type decides the vigil format; for `syslog` the parsers say what the lines carry
(`sshd-logs` → sshd, `iptables-logs` → netfilter kernel lines, else plain syslog).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eval.manifest import (
    CEF,
    MODSECURITY,
    PANOS_CSV,
    WEB_ERROR_LINES,
    Manifest,
    dedupe,
    in_scope,
    out_of_scope,
)

DATASET = "crowdsec_hub_tests"

# CrowdSec log type → vigil format, for the types vigil reads.
LOG_TYPES: dict[str, str] = {
    "nginx": "apache",
    "apache2": "apache",
    "suricata-evelogs": "jsonl",
    # UniFi gateways send netfilter lines and sshd lines through one syslog stream: the
    # `syslog` parser is the one that must take both.
    "unifi": "syslog",
    # Proxmox VE's firewall log: netfilter fields behind its own header (VMID, level,
    # chain, time), which the netfilter parser reads.
    "pve-firewall": "netfilter",
}

# Within log type `syslog`, the first CrowdSec parser found here decides the format.
SYSLOG_PARSERS: tuple[tuple[str, str], ...] = (
    ("sshd-logs", "sshd"),
    ("sshd-success-logs", "sshd"),
    ("iptables-logs", "netfilter"),
)

OUT_OF_SCOPE: dict[str, str] = {
    "cef": CEF,
    "palo-alto-threat": PANOS_CSV,
    "modsecurity": MODSECURITY,
    "wineventlog": "Windows event log (EVTX rendered as XML): no vigil parser",
    "fortinet": "FortiGate key=value log: no vigil parser",
    "mikrotik": "MikroTik RouterOS firewall log: no program tag, own src:port->dst:port syntax",
    "tcpdump": "tcpdump text output: vigil reads packet captures as pcap files, not as text",
    "suricata-fastlogs": "Suricata fast.log: vigil reads Suricata alerts from eve.json",
    "apache-guacamole": "Apache Guacamole / Tomcat application log: no vigil parser",
    "magento-extension": "Magento CrowdSec-extension application log: no vigil parser",
}


def crowdsec_hub_tests(root: Path) -> Manifest:
    manifest = Manifest(DATASET)
    for test_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        config_path = test_dir / "config.yaml"
        if not config_path.is_file():
            continue
        config = _load_config(config_path)
        if config is None:
            manifest.notes.append(
                f"{test_dir.name}: config.yaml is not a YAML mapping; test left out"
            )
            continue
        log_file = str(config.get("log_file") or "")
        path = test_dir / log_file
        if not log_file or not path.is_file():
            manifest.notes.append(f"{test_dir.name}: log_file {log_file!r} not found; left out")
            continue
        log_type = str(config.get("log_type") or "")
        label = f"{test_dir.name}/{log_file}"
        expected = vigil_format(log_type, _parser_names(config.get("parsers")))
        if expected is None:
            reason = OUT_OF_SCOPE.get(
                log_type, f"CrowdSec log type {log_type!r}: unclassified, no vigil parser"
            )
            manifest.inputs.append(out_of_scope(DATASET, path, label, log_type, reason))
            continue
        rules = WEB_ERROR_LINES if expected == "apache" else ()
        manifest.inputs.append(in_scope(DATASET, path, label, log_type, expected, rules))
    return dedupe(manifest)


def vigil_format(log_type: str, parsers: list[str]) -> str | None:
    """The vigil format of a CrowdSec test's log, or None when vigil has none for it."""
    if log_type == "syslog":
        for crowdsec_parser, fmt in SYSLOG_PARSERS:
            if crowdsec_parser in parsers:
                return fmt
        return "syslog"
    return LOG_TYPES.get(log_type)


def _parser_names(raw: object) -> list[str]:
    """`crowdsecurity/sshd-logs.yaml` → `sshd-logs`."""
    if not isinstance(raw, list):
        return []
    names = []
    for item in raw:
        name = str(item).rsplit("/", 1)[-1]
        names.append(name.removesuffix(".yaml"))
    return names


def _load_config(path: Path) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None
