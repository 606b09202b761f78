"""`respond:` and `responders:` in vigil.yaml: validated, errors located at the block."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vigil.config.loader import load_config
from vigil.errors import ConfigError
from vigil.respond.nftables import NftablesSettings

GOOD = """\
respond:
  mode: enforce
  allowlist: [192.0.2.0/24, "2001:db8::/32"]
  rate_limit: 10
  rules:
    - match: {rule: "ssh_*", level: medium, entity: {source.ip: 203.0.113.0/24}}
      responder: edge
      ttl: 30m
      escalate: [10m, 1h, 1d, 1w]
      ipv6_prefix: 64
responders:
  edge:
    type: nftables
    table: edge
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return load_config(path)


def test_full_example_loads(tmp_path: Path) -> None:
    """Every key of the documented example is read, responder settings by their type."""
    cfg = _load(tmp_path, GOOD)
    respond = cfg.respond  # type: ignore[attr-defined]
    assert respond.mode == "enforce" and respond.rate_limit == 10
    assert respond.rules[0].escalate[-1] == timedelta(weeks=1)
    assert respond.rules[0].match.entity == {"source.ip": "203.0.113.0/24"}
    edge = cfg.responders["edge"]  # type: ignore[attr-defined]
    assert edge.type == "nftables"
    assert isinstance(edge.settings, NftablesSettings) and edge.settings.table == "edge"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "responders:\n  edge:\n    type: nftables\n    tabel: x\n",
            r"responders.edge: tabel: unknown setting \(at .*vigil.yaml:2:3\)",
        ),
        (
            "responders:\n  edge:\n    type: pf\n",
            r"responders.edge: unknown responder type 'pf' \(known: .*nftables.*\) \(at .*:2:3\)",
        ),
        ("responders:\n  edge: {table: x}\n", r"responders.edge: a responder needs type:"),
        (
            "respond:\n  allowlist: [192.0.2.0/24, 'nonsense']\n",
            r"respond.allowlist: not an address or CIDR: 'nonsense' \(at .*:2:3\)",
        ),
        ("respond:\n  mode: yolo\n", r"respond.mode: Input should be 'dry-run' or 'enforce'"),
        (
            "respond:\n  rules:\n    - responder: nftables\n      ttl: 0s\n",
            r"respond.rules.0.ttl: ttl must be longer than 0 s \(at .*:4:7\)",
        ),
        (
            "respond:\n  rules:\n    - responder: nftables\n      match: {level: severe}\n",
            r"respond.rules.0.match.level: Input should be",
        ),
    ],
)
def test_errors_name_the_block(tmp_path: Path, text: str, message: str) -> None:
    """An invalid response setting names its key path and file:line."""
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_no_respond_section_is_none(tmp_path: Path) -> None:
    """Without respond: the config says so (the built-in policy applies)."""
    assert load_config(None).respond is None
