"""`vigil notify test|outbox|flush` as an operator runs them, against a real SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.notify.factories import flood
from tests.notify.receivers import free_port, http_receiver, mail_text, smtp_receiver
from vigil.cli.main import app
from vigil.clock import SystemClock
from vigil.config.loader import load_config
from vigil.errors import ExitCode
from vigil.notify.notifier import Notifier
from vigil.store.db import StateDB

runner = CliRunner()


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(f'notify:\n  channels:\n    mail:\n      url: "{url}"\n{extra}')
    return path


def test_notify_test_delivers_to_smtp(tmp_path: Path) -> None:
    """`vigil notify test mail` sends the test mail now and says so."""
    with smtp_receiver() as smtp:
        config = _config(tmp_path, smtp.url())
        result = runner.invoke(app, ["-c", str(config), "notify", "test", "mail"])
        assert result.exit_code == 0, result.output
        (mail,) = smtp.wait(1)
    assert mail["Subject"] == "[vigil] test message to channel mail"
    assert "This is a test message from vigil" in mail_text(mail)
    assert "sent to channel mail: [vigil] test message to channel mail" in result.stdout


def test_notify_test_receiver_down_exits_69(tmp_path: Path) -> None:
    """With the SMTP server down, the test fails with exit 69 and one clear line."""
    url = f"mailto://127.0.0.1:{free_port()}?mode=insecure&from=v@example.org&to=o@example.org"
    result = runner.invoke(app, ["-c", str(_config(tmp_path, url)), "notify", "test", "mail"])
    assert result.exit_code == ExitCode.UNAVAILABLE
    line = result.stderr.strip()
    assert line.startswith("error: channel mail: test message not delivered: ")
    assert "Connection error" in line and "\n" not in line


def test_notify_test_unknown_channel_exits_2(tmp_path: Path) -> None:
    """Naming a channel that is not configured is a usage error listing the known ones."""
    config = _config(tmp_path, "json://127.0.0.1:9/x")
    result = runner.invoke(app, ["-c", str(config), "notify", "test", "chat"])
    assert result.exit_code == ExitCode.USAGE
    assert "no channel 'chat' in notify.channels (known: mail)" in result.stderr


def _queue_one(tmp_path: Path, config: Path, state: Path) -> None:
    db = StateDB(state / "vigil.db")
    Notifier(load_config(config).notify, db, SystemClock()).alerts([flood()])
    db.close()


def test_outbox_lists_queued_then_flush_delivers(tmp_path: Path, state_dir: Path) -> None:
    """`notify outbox --json` shows a queued message; `notify flush` sends it and the
    outbox is empty afterwards."""
    with http_receiver() as http:
        config = _config(tmp_path, f"json://127.0.0.1:{http.port}/hook")
        _queue_one(tmp_path, config, state_dir)
        listed = runner.invoke(app, ["-c", str(config), "notify", "outbox", "--json"])
        assert listed.exit_code == 0, listed.output
        doc = json.loads(listed.stdout)
        assert [m["state"] for m in doc["messages"]] == ["queued"]
        assert doc["messages"][0]["subject"].startswith("[vigil] high firewall_connection_flood")
        flushed = runner.invoke(app, ["-c", str(config), "notify", "flush"])
        assert flushed.exit_code == 0, flushed.output
        assert "sent 1," in flushed.stdout
        assert len(http.wait(1)) == 1
    after = runner.invoke(app, ["-c", str(config), "notify", "outbox", "--json"])
    assert json.loads(after.stdout)["messages"] == []


def test_flush_with_receiver_down_exits_69_and_keeps_it(tmp_path: Path, state_dir: Path) -> None:
    """A flush that cannot reach the receiver exits 69; the table shows the message queued
    with its error."""
    config = _config(tmp_path, f"json://127.0.0.1:{free_port()}/hook")
    _queue_one(tmp_path, config, state_dir)
    flushed = runner.invoke(app, ["-c", str(config), "notify", "flush"])
    assert flushed.exit_code == ExitCode.UNAVAILABLE
    assert "could not deliver to mail" in flushed.stderr
    table = runner.invoke(app, ["-c", str(config), "notify", "outbox"])
    assert table.exit_code == 0
    assert "queued" in table.stdout and "Connection refused" in table.stdout


def test_flush_now_closes_open_digest(tmp_path: Path, state_dir: Path) -> None:
    """`notify flush --now` sends an open digest before its period is over."""
    with http_receiver() as http:
        config = _config(tmp_path, f"json://127.0.0.1:{http.port}/hook", "      digest: 1h\n")
        _queue_one(tmp_path, config, state_dir)
        waiting = runner.invoke(app, ["-c", str(config), "notify", "outbox", "--json"])
        assert json.loads(waiting.stdout)["digests"]["mail"]["waiting"] == 1
        flushed = runner.invoke(app, ["-c", str(config), "notify", "flush", "--now"])
        assert flushed.exit_code == 0, flushed.output
        (post,) = http.wait(1)
    assert post.json()["title"].startswith("[vigil] high firewall_connection_flood")
