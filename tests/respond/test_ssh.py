"""The SSH runner and the ssh responder against a real OpenSSH server on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.respond.netns import NetPair
from tests.respond.sshd import SshServer, known_hosts_line, make_key, sshd
from vigil.config.loader import load_config
from vigil.errors import ConfigError, ResponderError, TargetRefused
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind
from vigil.respond.registry import get_responder
from vigil.respond.ssh import SshResponder, SshSettings
from vigil.respond.ssh_runner import SshRunner, remote_command
from vigil.respond.ssh_settings import SshConnection

__all__ = ["sshd"]

# Arguments a shell would expand, split or run if they were not quoted right.
AWKWARD = [
    "; touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    "a b",
    "'single' \"double\"",
    "*",
    "~",
    "$HOME",
    "back\\slash",
    "!",
    "",
    "-n",
    "ünïcode",
    "x' ; touch {canary}; echo '",
]

HOSTILE_TARGETS = [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "203.0.113.7 -j ACCEPT",
    "1.2.3.4 -j ACCEPT",
    "203.0.113.7\n198.51.100.1",
    "203.0.113.7;reboot",
    "0.0.0.0/0",
    "203.0.113.0/4",
    "::1",
    "bob",
]


@pytest.fixture
def runner(sshd: SshServer) -> Iterator[SshRunner]:
    with sshd.runner() as r:
        yield r


def block(target: str) -> Action:
    return Action(
        responder="edge",
        kind=ActionKind.BLOCK,
        target=target,
        ttl=timedelta(hours=1),
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        rule_name="firewall_connection_flood",
    )


def settings(sshd: SshServer, **extra: Any) -> SshSettings:
    base: dict[str, Any] = {
        "host": sshd.host,
        "port": sshd.port,
        "key": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "timeout": 5,
        "retries": 0,
    }
    base.update(extra)
    return SshSettings.model_validate(base)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_arguments_arrive_exactly_as_listed(runner: SshRunner, tmp_path: Path) -> None:
    """Every list element reaches the remote program as one unchanged argument, and
    nothing in them is run by the remote shell."""
    canary = tmp_path / "canary"
    argv = [a.format(canary=canary) for a in AWKWARD]
    done = runner.run(["printf", "%s\\0", *argv])
    assert done.stdout.split("\0")[:-1] == argv
    assert not canary.exists()


def test_control_characters_are_refused_before_sending(runner: SshRunner) -> None:
    """A newline or NUL in an argument is refused: nothing is sent."""
    for bad in ("a\nb", "a\x00b", "a\rb"):
        with pytest.raises(ResponderError, match="control characters"):
            runner.run(["echo", bad])
    with pytest.raises(ResponderError, match="empty command"):
        remote_command([])


def test_empty_command_is_refused_even_with_a_prefix(sshd: SshServer) -> None:
    """An empty argv never runs the prefix alone."""
    with sshd.runner(prefix=["env"]) as r, pytest.raises(ResponderError, match="empty command"):
        r.run([])


def test_a_command_that_hangs_times_out_and_the_next_one_reconnects(sshd: SshServer) -> None:
    """No output within command_timeout is a ResponderError; the runner then starts over."""
    with sshd.runner(command_timeout=0.5) as r:
        with pytest.raises(ResponderError, match=r"sleep did not answer within 0\.5 s"):
            r.run(["sleep", "5"])
        r.command_timeout = 5.0
        assert r.run(["echo", "back"]).stdout == "back\n"


def test_stdin_is_passed_and_closed(runner: SshRunner) -> None:
    """stdin reaches the command, which then sees its end (no hang)."""
    assert runner.run(["cat"], stdin="table inet vigil\n").stdout == "table inet vigil\n"
    assert runner.run(["cat"]).stdout == ""


def test_failed_command_raises_with_remote_stderr_and_is_not_retried(sshd: SshServer) -> None:
    """A non-zero exit is a ResponderError with the remote stderr; it is not run again."""
    slept: list[float] = []
    with sshd.runner(retries=3, sleep=slept.append) as r:
        with pytest.raises(ResponderError, match=r"failed \(exit 4\): no such set"):
            r.run(["sh", "-c", "echo 'no such set' >&2; exit 4"])
        assert r.run(["sh", "-c", "exit 4"], check=False).returncode == 4
    assert slept == []


def test_one_connection_serves_successive_commands(runner: SshRunner) -> None:
    """Commands reuse the connection (same client port), until it is closed."""
    first = runner.run(["sh", "-c", "echo $SSH_CONNECTION"]).stdout
    second = runner.run(["sh", "-c", "echo $SSH_CONNECTION"]).stdout
    assert first == second
    runner.close()
    assert runner.run(["sh", "-c", "echo $SSH_CONNECTION"]).stdout != first


def test_wrong_host_key_is_refused_and_nothing_runs(sshd: SshServer, tmp_path: Path) -> None:
    """A known_hosts entry with another key refuses the connection, naming the host;
    it is not retried and the command never runs."""
    other = make_key(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line(sshd.host, sshd.port, other))
    canary = tmp_path / "canary"
    slept: list[float] = []
    with (
        sshd.runner(known_hosts=known, retries=3, sleep=slept.append) as r,
        pytest.raises(ResponderError, match=r"127\.0\.0\.1.*does not match.*refusing"),
    ):
        r.run(["touch", str(canary)])
    assert not canary.exists()
    assert slept == []


def test_unknown_host_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    """A host missing from known_hosts is refused (never added), with its key's fingerprint."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    canary = tmp_path / "canary"
    with (
        sshd.runner(known_hosts=known) as r,
        pytest.raises(ResponderError, match=r"SHA256:.* is not in .*refusing"),
    ):
        r.run(["touch", str(canary)])
    assert not canary.exists()
    assert known.read_text() == ""


def test_missing_known_hosts_file_is_an_error(sshd: SshServer, tmp_path: Path) -> None:
    """Without its known_hosts file the runner refuses to connect."""
    with (
        sshd.runner(known_hosts=tmp_path / "absent") as r,
        pytest.raises(ResponderError, match="cannot read known_hosts"),
    ):
        r.run(["true"])


def test_unauthorized_key_fails_without_retry(sshd: SshServer, tmp_path: Path) -> None:
    """A key the server does not accept is an authentication error, not retried."""
    make_key(tmp_path / "stranger")
    slept: list[float] = []
    with (
        sshd.runner(key_file=tmp_path / "stranger", retries=2, sleep=slept.append) as r,
        pytest.raises(ResponderError, match="key authentication failed"),
    ):
        r.run(["true"])
    assert slept == []


def test_unreadable_key_is_an_error(sshd: SshServer, tmp_path: Path) -> None:
    """A missing or malformed key file is named in the error."""
    (tmp_path / "garbage").write_text("not a key\n")
    for key in (tmp_path / "absent", tmp_path / "garbage"):
        with sshd.runner(key_file=key) as r, pytest.raises(ResponderError, match="cannot read key"):
            r.run(["true"])


def test_closed_port_is_retried_with_exponential_backoff(sshd: SshServer) -> None:
    """Connection errors are retried `retries` times, waiting backoff x 1, 2, 4."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    slept: list[float] = []
    with (
        sshd.runner(port=closed, retries=3, backoff=0.5, sleep=slept.append) as r,
        pytest.raises(ResponderError, match=r"cannot connect .* after 4 attempts"),
    ):
        r.run(["true"])
    assert slept == [0.5, 1.0, 2.0]


def test_connection_settings_build_the_prefix() -> None:
    """sudo prefixes `sudo -n --`; a remote namespace adds `ip netns exec NS`."""
    conn = SshConnection.model_validate(
        {"host": "192.0.2.1", "key": "/k", "known_hosts": "/kh", "sudo": True}
    )
    assert conn.runner(netns="fw").prefix == ["sudo", "-n", "--", "ip", "netns", "exec", "fw"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"key": None}, "key: is required"),
        ({"host": "-oProxyCommand=id"}, "should match pattern"),
        ({"user": "root;id"}, "should match pattern"),
        ({"backend": "command"}, "backend command needs ban"),
        ({"ban": ["ban", "{target}"]}, "ban: not a setting of backend nftables"),
        ({"backend": "command", "ban": ["x"], "nftables": {}}, "nftables: not a setting"),
        ({"backend": "command", "ban": ["{target}"]}, "program must be a fixed"),
        ({"password": "hunter2"}, "Extra inputs"),
        ({"timeout": 0}, "greater than 0"),
    ],
)
def test_invalid_settings_are_refused(extra: dict[str, Any], message: str) -> None:
    """Settings that could not work, or would weaken the login, are configuration errors."""
    base: dict[str, Any] = {"host": "192.0.2.1", "key": "/k", "known_hosts": "/kh"}
    base.update(extra)
    with pytest.raises(ValidationError, match=message):
        SshSettings.model_validate(base)


def test_command_backend_bans_unbans_and_lists_on_the_remote_host(
    sshd: SshServer, tmp_path: Path
) -> None:
    """With backend: command, the operator's argv runs over SSH with the validated target."""
    bans = tmp_path / "bans"
    ban = script(tmp_path, "ban.sh", 'echo "$1 $2" >> "$3"\n')
    unban = script(tmp_path, "unban.sh", 'grep -v "^$1 " "$2" > "$2.new"; mv "$2.new" "$2"\n')
    listing = script(tmp_path, "list.sh", 'cut -d" " -f1 "$1"\n')
    edge = SshResponder(
        settings(
            sshd,
            backend="command",
            ban=[str(ban), "{target}", "{ttl}", str(bans)],
            unban=[str(unban), "{target}", str(bans)],
            list=[str(listing), str(bans)],
        ),
        ResponderContext(),
    )
    try:
        edge.act(block("203.0.113.7"))
        edge.act(block("2001:db8:0:0:0:0:0:7"))
        assert bans.read_text() == "203.0.113.7 3600\n2001:db8::7 3600\n"
        assert edge.check() == {"203.0.113.7", "2001:db8::7"}
        edge.revert(block("203.0.113.7"))
        assert edge.check() == {"2001:db8::7"}
    finally:
        edge.close()


def test_hostile_targets_never_reach_the_remote_side(
    sshd: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every hostile target is refused before a command is built or a connection made."""
    ban = script(tmp_path, "ban.sh", 'printf "%s\\n" "$@" >> "$0.out"\n')
    edge = SshResponder(
        settings(sshd, backend="command", ban=[str(ban), "{target}"]), ResponderContext()
    )
    sent: list[list[str]] = []
    monkeypatch.setattr(edge.runner, "run", lambda argv, *a, **k: sent.append(argv))
    for target in HOSTILE_TARGETS:
        with pytest.raises(TargetRefused):
            edge.act(block(target))
        with pytest.raises(TargetRefused):
            edge.revert(block(target))
    assert sent == []
    assert not (tmp_path / "ban.sh.out").exists()


def test_lock_actions_are_refused_by_the_firewall_responder(sshd: SshServer) -> None:
    """The ssh responder blocks addresses; an account lock is not its business."""
    edge = SshResponder(settings(sshd, backend="command", ban=["true"]), ResponderContext())
    action = block("203.0.113.7")
    action.kind = ActionKind.LOCK
    with pytest.raises(TargetRefused, match="only blocks"):
        edge.act(action)


def test_backend_errors_name_the_host(sshd: SshServer) -> None:
    """A remote failure is reported with the host it happened on."""
    edge = SshResponder(settings(sshd, backend="command", ban=["false"]), ResponderContext())
    try:
        with pytest.raises(ResponderError, match=r"^ssh root@127\.0\.0\.1:\d+: false failed"):
            edge.act(block("203.0.113.7"))
    finally:
        edge.close()


def nft_set(netpair: NetPair, name: str) -> list[Any]:
    listed = json.loads(netpair.firewall_run(["nft", "-j", "list", "set", "inet", "vigil", name]))
    (found,) = [item["set"] for item in listed["nftables"] if "set" in item]
    return list(found.get("elem", []))


def test_nftables_ban_through_sshd_lands_in_the_kernel_set(
    sshd: SshServer, netpair: NetPair
) -> None:
    """A ban through sshd puts the address in the firewall namespace's nftables set with
    its timeout, drops its connections, and the revert lifts it."""
    listener = netpair.listen()
    banned, other = netpair.clients4[0], netpair.clients4[1]
    assert get_responder("ssh") is SshResponder
    edge = SshResponder(
        settings(sshd, backend="nftables", nftables={"netns": netpair.firewall}),
        ResponderContext(),
    )
    try:
        edge.act(block(banned))
        (element,) = nft_set(netpair, "banned4")
        assert element["elem"]["val"] == banned
        assert 3500 < element["elem"]["timeout"] <= 3600
        assert edge.check() == {banned}
        assert netpair.dropped(banned, netpair.firewall4, listener.port)
        assert netpair.connect(other, netpair.firewall4, listener.port)
        edge.revert(block(banned))
        assert nft_set(netpair, "banned4") == []
        assert edge.check() == set()
        assert netpair.connect(banned, netpair.firewall4, listener.port)
    finally:
        edge.close()


def test_iptables_ban_through_sshd_lands_in_the_ipset(sshd: SshServer, netpair: NetPair) -> None:
    """The iptables backend over SSH adds the address to the namespace's ipset and removes it."""
    edge = SshResponder(
        settings(sshd, backend="iptables", iptables={"netns": netpair.firewall, "ipv6": False}),
        ResponderContext(),
    )
    try:
        edge.act(block("198.51.100.23"))
        assert "198.51.100.23 timeout" in netpair.firewall_run(["ipset", "list", "vigil4"])
        assert edge.check() == {"198.51.100.23"}
        edge.revert(block("198.51.100.23"))
        assert "198.51.100.23" not in netpair.firewall_run(["ipset", "list", "vigil4"])
    finally:
        edge.close()


def test_ssh_responder_loads_from_vigil_yaml_with_located_errors(tmp_path: Path) -> None:
    """An ssh block in vigil.yaml gives SshSettings; a misspelt setting names its line."""
    config = tmp_path / "vigil.yaml"
    block_yaml = (
        "responders:\n"
        "  edge:\n"
        "    type: ssh\n"
        "    host: 192.0.2.1\n"
        "    key: /etc/vigil/id_ed25519\n"
        "    known_hosts: /etc/vigil/known_hosts\n"
        "    backend: command\n"
        '    ban: [/usr/local/bin/acl-add, "{target}"]\n'
        "    list: [/usr/local/bin/acl-list]\n"
    )
    config.write_text(block_yaml)
    loaded = load_config(config).responders["edge"].settings
    assert isinstance(loaded, SshSettings)
    assert loaded.list_argv == ["/usr/local/bin/acl-list"]
    config.write_text(block_yaml + "    pasword: x\n")
    with pytest.raises(ConfigError, match=r"pasword: unknown setting \(at .*vigil\.yaml:2:3\)"):
        load_config(config)
