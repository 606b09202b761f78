"""What each raw input of a dataset is: the vigil format it must parse as, or why it is
out of scope.

An `Input` is one file given to the real pipeline. Its `expected` format is decided by a
rule over what the dataset says about the file (a CrowdSec log type and parser list, a
Wazuh decoder, a loghub system name), never by a hand list of files, so new files in a
dataset are classified too; a file no rule knows is out of scope with an "unclassified"
reason, which the report shows, rather than silently left out.

Some files mix formats (a web access log with a few error-log lines): `LineRule`s mark
those lines out of scope with their own reason; the rest of the file stays in scope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Out-of-scope reasons shared by several datasets.
APACHE_ERROR_LOG = "Apache error log (vigil parses web access logs, not error logs)"
NGINX_ERROR_LOG = "nginx error log (vigil parses web access logs, not error logs)"
CEF = "CEF (ArcSight Common Event Format): the planned `cef` parser does not exist yet"
PANOS_CSV = "Palo Alto PAN-OS CSV log: vendor CSV without a program tag; no vigil parser"
MODSECURITY = "ModSecurity messages inside Apache/nginx error logs; no vigil parser"


@dataclass(frozen=True)
class LineRule:
    """Lines of an in-scope input that match `pattern` (Rust regex) are out of scope."""

    pattern: str
    reason: str


# Lines of another format that turn up inside web access logs.
WEB_ERROR_LINES = (
    LineRule(r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} [ \d]\d \d\d:\d\d:\d\d", APACHE_ERROR_LOG),
    LineRule(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: ", NGINX_ERROR_LOG),
)


@dataclass(frozen=True)
class Input:
    """One file for the pipeline, with what it is expected to parse as."""

    dataset: str
    path: Path
    # How the report names it: `ssh-bf/ssh-bf.log`, `wazuh decoder sshd`.
    label: str
    # What the dataset calls its format: CrowdSec log type, Wazuh decoder, loghub system.
    kind: str
    # The vigil format every in-scope line must parse as; None when out of scope.
    expected: str | None
    # Why the whole input is out of scope (set exactly when `expected` is None).
    out_of_scope: str | None = None
    line_rules: tuple[LineRule, ...] = ()
    # Where each line came from, when the file was assembled by the harness (Wazuh
    # lines from INI files); otherwise lines are located as `label:line`.
    origins: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.expected is None) == (self.out_of_scope is None):
            raise ValueError(f"{self.label}: exactly one of expected / out_of_scope must be set")

    def origin_of(self, line: int) -> str:
        if self.origins is not None and 1 <= line <= len(self.origins):
            return self.origins[line - 1]
        return f"{self.label}:{line}"


def in_scope(
    dataset: str,
    path: Path,
    label: str,
    kind: str,
    expected: str,
    line_rules: tuple[LineRule, ...] = (),
) -> Input:
    return Input(dataset, path, label, kind, expected, None, line_rules)


def out_of_scope(dataset: str, path: Path, label: str, kind: str, reason: str) -> Input:
    return Input(dataset, path, label, kind, None, reason)


@dataclass
class Manifest:
    """The inputs of one dataset, and what was noticed while building them."""

    dataset: str
    inputs: list[Input] = field(default_factory=list)
    # Files left out because another input has the same bytes: (label, label of the kept one).
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def dedupe(manifest: Manifest) -> Manifest:
    """Keep the first input of each distinct file content; record the others."""
    seen: dict[str, str] = {}
    kept: list[Input] = []
    for inp in manifest.inputs:
        digest = hashlib.sha256(inp.path.read_bytes()).hexdigest()
        if digest in seen:
            manifest.duplicates.append((inp.label, seen[digest]))
            continue
        seen[digest] = inp.label
        kept.append(inp)
    manifest.inputs = kept
    return manifest


# loghub names its samples `<System>_2k.log`; the system says what the lines are.
LOGHUB_SYSTEMS: dict[str, str] = {"OpenSSH": "sshd", "Linux": "syslog"}
LOGHUB_OUT_OF_SCOPE: dict[str, str] = {
    "Apache": APACHE_ERROR_LOG,
    "Windows": "Windows CBS log: not a security log format vigil parses",
}


def loghub(root: Path) -> Manifest:
    manifest = Manifest("loghub")
    for path in _log_files(root):
        system = path.name.split("_", 1)[0]
        label = path.name
        if system in LOGHUB_SYSTEMS:
            manifest.inputs.append(in_scope("loghub", path, label, system, LOGHUB_SYSTEMS[system]))
        else:
            reason = LOGHUB_OUT_OF_SCOPE.get(
                system, f"loghub system {system!r}: not a log format vigil parses (unclassified)"
            )
            manifest.inputs.append(out_of_scope("loghub", path, label, system, reason))
    return dedupe(manifest)


# Auth logs by their conventional names (Debian `auth.log`, Red Hat `secure`).
AUTH_LOG_NAMES = ("auth.log", "secure")


def elastic_examples(root: Path) -> Manifest:
    manifest = Manifest("elastic_examples")
    for path in _log_files(root, names=AUTH_LOG_NAMES):
        if path.name in AUTH_LOG_NAMES:
            manifest.inputs.append(in_scope(manifest.dataset, path, path.name, "auth", "sshd"))
        else:
            reason = f"{path.name}: unclassified file in elastic_examples"
            manifest.inputs.append(out_of_scope(manifest.dataset, path, path.name, "?", reason))
    return dedupe(manifest)


def _log_files(root: Path, names: Iterable[str] = ()) -> list[Path]:
    """Raw log files of a flat dataset folder: `*.log` and the conventional names given."""
    wanted = set(names)
    return sorted(
        p
        for p in root.iterdir()
        if p.is_file() and not p.name.startswith(".") and (p.suffix == ".log" or p.name in wanted)
    )
