"""The manifest of `wazuh_ruleset_tests`: the log lines embedded in Wazuh's rule tests.

A test file is INI-shaped but not INI (keys repeat within a section, values hold `=`):

    [test case name]
    log 1 pass = <raw log line>
    log 2 fail = <raw log line>
    rule = 5712
    alert = 10
    decoder = sshd

The `decoder` (given after the lines it applies to) names the log family. The harness
writes the lines of each decoder, in file order, to one file under the work directory
and remembers where each came from (`sshd.ini:12`), so a reject points at its INI line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from eval.manifest import APACHE_ERROR_LOG, NGINX_ERROR_LOG, PANOS_CSV, Input, LineRule, Manifest

DATASET = "wazuh_ruleset_tests"

# Wazuh decoder → vigil format.
DECODERS: dict[str, str] = {
    "sshd": "sshd",
    "web-accesslog": "apache",
    # These decoders read the message of an ordinary syslog line (header with a program
    # tag), so the `syslog` parser must take the line.
    "pam": "syslog",
    "NetworkManager": "syslog",
    "proftpd": "syslog",
    "junos-ids": "syslog",
    "junos-rt-flow": "syslog",
    "netscreenfw": "syslog",
    # Cases with no decoder are syslog lines Wazuh's rules must ignore (kernel noise,
    # rsyslogd rate limiting, firewalld errors): still syslog lines for vigil.
    "": "syslog",
}

OUT_OF_SCOPE: dict[str, str] = {
    "apache-errorlog": APACHE_ERROR_LOG,
    "nginx-errorlog": NGINX_ERROR_LOG,
    "cisco-asa": "Cisco ASA messages (%ASA-n-id) without a syslog header: no vigil parser",
    "paloalto_system": PANOS_CSV,
    "paloalto_traffic": PANOS_CSV,
    "sonicwall": "SonicWall key=value log: no vigil parser",
    "vsftpd": "vsftpd's own log file format (not syslog): no vigil parser",
    "web-accesslog-iis-default": "IIS W3C extended log: no vigil parser",
    "web-accesslog-iis6": "IIS W3C extended log: no vigil parser",
}

# Lines of another format under an in-scope decoder.
LINE_RULES: dict[str, tuple[LineRule, ...]] = {
    "proftpd": (
        LineRule(
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ",
            "ProFTPD's own SystemLog file format (`2015-04-16 21:51:02,805 host proftpd[pid]`), "
            "not syslog: no vigil parser",
        ),
    ),
}

_SECTION = re.compile(r"^\[(?P<name>.*)\]\s*$")
_LOG = re.compile(r"^log\s+\d+\s+(?P<verdict>pass|fail)\s*=\s?(?P<text>.*)$")
_DECODER = re.compile(r"^decoder\s*=\s*(?P<name>.*?)\s*$")
_SETTING = re.compile(r"^(?:rule|alert)\s*=")


@dataclass(frozen=True)
class TestLine:
    """One `log N pass|fail = ...` line of a Wazuh test file."""

    file: str
    line: int  # 1-based line of the INI file
    section: str
    verdict: str  # "pass": the rule must fire; "fail": it must not
    decoder: str
    text: str

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class IniReading:
    lines: list[TestLine]
    # Lines inside sections that are neither keys nor comments (upstream typos: a raw
    # log line without its `log N pass =` key); Wazuh's runner ignores them, so do we.
    unkeyed: list[str]


def read_test_file(path: Path) -> IniReading:
    """The test lines of one Wazuh test file, each with the decoder of its section."""
    found: list[TestLine] = []
    unkeyed: list[str] = []
    pending: list[tuple[int, str, str]] = []  # (line, verdict, text) awaiting the decoder
    section = ""

    def close_section(decoder: str) -> None:
        for number, verdict, text in pending:
            found.append(TestLine(path.name, number, section, verdict, decoder, text))
        pending.clear()

    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        line = raw.rstrip("\r")
        if (m := _SECTION.match(line)) is not None:
            close_section("")
            section = m["name"]
        elif (m := _LOG.match(line)) is not None:
            pending.append((number, m["verdict"], m["text"]))
        elif (m := _DECODER.match(line)) is not None:
            close_section(m["name"])
        elif line.strip() and not line.lstrip().startswith((";", "#")) and not _SETTING.match(line):
            unkeyed.append(f"{path.name}:{number}")
    close_section("")
    return IniReading(found, unkeyed)


def wazuh_ruleset_tests(root: Path, workdir: Path) -> Manifest:
    """One input per decoder, written under `workdir`."""
    manifest = Manifest(DATASET)
    by_decoder: dict[str, list[TestLine]] = {}
    unkeyed: list[str] = []
    for path in sorted(root.glob("*.ini")):
        reading = read_test_file(path)
        unkeyed.extend(reading.unkeyed)
        for test_line in reading.lines:
            by_decoder.setdefault(test_line.decoder, []).append(test_line)
    if unkeyed:
        manifest.notes.append(
            f"{len(unkeyed)} lines without a `log N pass|fail =` key ignored, as Wazuh's "
            f"runner does ({', '.join(unkeyed[:3])}{', ...' if len(unkeyed) > 3 else ''})"
        )
    out_dir = workdir / DATASET
    out_dir.mkdir(parents=True, exist_ok=True)
    for decoder in sorted(by_decoder):
        lines = by_decoder[decoder]
        name = decoder or "no-decoder"
        path = out_dir / f"{_safe(name)}.log"
        path.write_text("".join(t.text + "\n" for t in lines), "utf-8")
        label = f"decoder {name}"
        origins = tuple(f"{t.origin} [{t.section}] {t.verdict}" for t in lines)
        if decoder in DECODERS:
            expected, reason = DECODERS[decoder], None
        else:
            reason = OUT_OF_SCOPE.get(
                decoder, f"Wazuh decoder {decoder!r}: unclassified, no vigil parser"
            )
            expected = None
        rules = LINE_RULES.get(decoder, ()) if expected is not None else ()
        manifest.inputs.append(
            Input(DATASET, path, label, decoder, expected, reason, rules, origins)
        )
    return manifest


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
