"""The seed case end to end, as shipped in samples/seed/: `vigil analyze fw.log --respond
--apply` bans exactly the two flooding sources on a real nftables firewall (a test
namespace) for the configured TTL, mails one digest to a real SMTP server, leaves an
audit trail, and changes nothing when run again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from tests.notify.receivers import mail_text, smtp_receiver
from tests.respond.netns import Listener, NetPair
from vigil.cli.main import app

SEED = Path(__file__).parents[2] / "samples" / "seed"
FLOODERS = ["192.0.2.10", "192.0.2.11"]
BUSY_BUT_FINE = "192.0.2.12"

runner = CliRunner()


def seed_config(tmp_path: Path, netns: str, mail_url: str) -> Path:
    """samples/seed/vigil.yaml, pointed at the test's namespace and mail server."""
    doc = yaml.safe_load((SEED / "vigil.yaml").read_text())
    doc["responders"]["firewall"]["netns"] = netns
    channel = doc["notify"]["channels"]["ops"]
    del channel["url_env"]
    channel["url"] = mail_url
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(config: Path) -> Any:
    args = ["-c", str(config), "analyze", str(SEED / "fw.log"), "--respond", "--apply", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def banned(netpair: NetPair) -> str:
    return netpair.firewall_run(["nft", "-j", "list", "set", "inet", "vigil", "banned4"])


def elements(listing: str) -> dict[str, int]:
    """address → timeout (s) of the elements of an `nft -j list set`."""
    out: dict[str, int] = {}
    for item in json.loads(listing)["nftables"]:
        for element in item.get("set", {}).get("elem", []):
            out[element["elem"]["val"]] = element["elem"]["timeout"]
    return out


def test_seed_case(tmp_path: Path, netpair: NetPair, listener: Listener) -> None:
    """Two floods → two one-hour bans that drop those sources only, one digest mail,
    an audit trail; the second run changes nothing."""
    with smtp_receiver() as smtp:
        config = seed_config(tmp_path, netpair.firewall, smtp.url())
        doc = run(config)
        flood_alerts = [a for a in doc["alerts"] if a["rule_name"] == "firewall_connection_flood"]
        assert sorted(a["entity"]["source.ip"] for a in flood_alerts) == FLOODERS
        actions = doc["actions"]
        assert sorted(a["target"] for a in actions) == FLOODERS
        assert {(a["responder"], a["state"], a["ttl"]) for a in actions} == {
            ("firewall", "applied", 3600)
        }
        assert elements(banned(netpair)) == dict.fromkeys(FLOODERS, 3600)
        for source in FLOODERS:
            assert netpair.dropped(source, netpair.firewall4, listener.port)
        assert netpair.connect(BUSY_BUT_FINE, netpair.firewall4, listener.port)

        [mail] = smtp.wait(1)
        assert mail["Subject"] == "[vigil] 2 alerts: 2 firewall_connection_flood"
        body = mail_text(mail)
        assert all(source in body for source in FLOODERS)
        assert doc["notifications"]["sent"] == 1

        audit = json.loads(runner.invoke(app, ["audit", "--json"]).stdout)
        assert sorted((e["event"], e["target"]) for e in audit) == [
            ("applied", "192.0.2.10"),
            ("applied", "192.0.2.11"),
            ("planned", "192.0.2.10"),
            ("planned", "192.0.2.11"),
        ]
        assert {e["actor"] for e in audit} == {"policy"}

        again = run(config)
        assert again["actions"] == actions
        assert json.loads(runner.invoke(app, ["audit", "--json"]).stdout) == audit
        assert again["notifications"]["sent"] == 0 and len(smtp.mails) == 1
        assert set(elements(banned(netpair))) == set(FLOODERS)
