"""What the `vigil` command imports: a regression guard on start-up, not a timing test.

Each case runs vigil in a fresh interpreter and looks at `sys.modules` when it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Runs the vigil command with argv[2:], then writes its exit code and modules to argv[1].
PROBE = """\
import json, sys
from vigil.cli.main import app
try:
    app(sys.argv[2:], prog_name="vigil")
    code = 0
except SystemExit as e:
    code = e.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# What a run that neither responds, notifies, follows live sources nor compiles rules
# must not pay for: SSH response, notification delivery and templates, the live monitor,
# pySigma (the compiled pack is cached), modules vigil never uses on this path.
NEVER_ON_ANALYZE = {
    "paramiko",
    "cryptography",
    "invoke",
    "apprise",
    "jinja2",
    "asyncio",
    "aiosmtpd",
    "sigma",
    "pyarrow",
    "requests",
    "httpx",
    "vigil.live",
    "vigil.notify",
    "vigil.respond.engine",
    "vigil.respond.ssh",
    "vigil.respond.ssh_runner",
}
# Tables are for people: a --json run prints without rich.
NEVER_WITH_JSON = {"rich"}
# Neither `vigil --help` nor importing the command loads the data and config stack
# (typer itself validates options with pydantic once a command's options are parsed).
NEVER_ON_HELP = NEVER_ON_ANALYZE | {"polars", "numpy", "yaml", "vigil.config.models"}

FW = "".join(
    f"2026-11-22 10:00:{s:02d} | 203.0.113.7 | 198.51.100.10 | TCP | DENY | {40000 + s} | 22\n"
    for s in range(30)
)

CONFIG = """\
timezone: Europe/Berlin
parsers:
  csv: {map: {src: source.ip}}
alerts: {throttle: 10m}
suppressions:
  - {rule: "ssh_*", match: {source.ip: 192.0.2.0/24}, reason: lab scanner}
respond:
  allowlist: [192.0.2.0/24, "2001:db8::/32"]
  rules:
    - {match: {rule: "firewall_*"}, responder: edge, ttl: 30m}
    - {match: {rule: "ssh_*"}, responder: soar}
responders:
  edge: {type: nftables, table: edge}
  soar: {type: webhook, url: "https://soar.example.org/vigil", token_env: SOAR_TOKEN}
notify:
  channels:
    ops: {url_env: VIGIL_TEST_OPS_URL, min_level: high}
  retry: {attempts: 3}
sources:
  auth: {type: file, paths: [/var/log/auth.log]}
  relay: {type: syslog, protocol: udp, listen: "127.0.0.1:5514"}
live: {batch_ms: 200}
"""


def _run(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    out = tmp_path / "probe.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=tmp_path,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    doc = json.loads(out.read_text())
    return doc["code"], set(doc["modules"])


def _loaded(modules: set[str], names: set[str]) -> list[str]:
    """The names that are loaded, or that have a submodule loaded."""
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


def test_importing_the_command_loads_neither_data_nor_response_stack(tmp_path: Path) -> None:
    """`import vigil.cli.main` loads typer and vigil's command modules only."""
    code = "import json, sys, vigil.cli.main; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    modules = set(json.loads(result.stdout))
    assert _loaded(modules, NEVER_ON_HELP | NEVER_WITH_JSON | {"pydantic"}) == []


def test_help_loads_neither_data_nor_response_stack(tmp_path: Path) -> None:
    """`vigil --help` and `vigil analyze --help` print without polars, numpy or YAML."""
    for args in (["--help"], ["analyze", "--help"]):
        code, modules = _run(tmp_path, *args)
        assert code == 0
        assert _loaded(modules, NEVER_ON_HELP) == [], args


def test_analyze_json_loads_only_what_it_uses(tmp_path: Path) -> None:
    """`vigil analyze --json` with the default config, once the rule pack is cached,
    loads no response, notification, live or pySigma module, and no rich."""
    log = tmp_path / "fw.log"
    log.write_text(FW)
    state = str(tmp_path / "state")
    first, _ = _run(tmp_path, "--state-dir", state, "analyze", "--json", str(log))
    code, modules = _run(tmp_path, "--state-dir", state, "analyze", "--json", str(log))
    assert first == code == 0
    assert "vigil.detect.stage" in modules  # the probe saw a real run
    assert _loaded(modules, NEVER_ON_ANALYZE | NEVER_WITH_JSON) == []


def test_analyze_with_every_config_section_loads_only_what_it_uses(tmp_path: Path) -> None:
    """A config with respond, responders, notify, sources and live sections is validated
    in full, and still loads no module of a responder, notifier or source it does not
    use in this run (`--no-notify`: no delivery)."""
    log = tmp_path / "fw.log"
    log.write_text(FW)
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    state = str(tmp_path / "state")
    args = ("--state-dir", state, "analyze", "--json", "--no-notify", str(log))
    first, _ = _run(tmp_path, *args)
    code, modules = _run(tmp_path, *args)
    assert first == code == 0
    assert {"vigil.config.models", "vigil.respond.nftables", "vigil.respond.webhook"} <= modules
    assert _loaded(modules, NEVER_ON_ANALYZE | NEVER_WITH_JSON) == []


def test_a_config_naming_ssh_hosts_validates_without_paramiko(tmp_path: Path) -> None:
    """`ssh` and `account` responders with an `ssh:` block are validated at load (their
    settings), but paramiko is imported only when one of them connects."""
    log = tmp_path / "fw.log"
    log.write_text(FW)
    (tmp_path / "vigil.yaml").write_text(
        "responders:\n"
        "  edge: {type: ssh, host: fw.example.org, key: /etc/vigil/id_ed25519,"
        " known_hosts: /etc/vigil/known_hosts}\n"
        "  lock: {type: account, ssh: {host: 192.0.2.10, key: /etc/vigil/id_ed25519,"
        " known_hosts: /etc/vigil/known_hosts}}\n"
    )
    state = str(tmp_path / "state")
    args = ("--state-dir", state, "analyze", "--json", str(log))
    first, _ = _run(tmp_path, *args)
    code, modules = _run(tmp_path, *args)
    assert first == code == 0
    assert {"vigil.respond.ssh", "vigil.respond.account"} <= modules
    assert _loaded(modules, {"paramiko", "cryptography", "vigil.respond.ssh_runner"}) == []
