"""The account responder on throwaway users: lock, unlock, expire, end sessions, refuse."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.respond.sshd import SshServer, sshd
from vigil.errors import TargetRefused
from vigil.respond.account import AccountResponder, AccountSettings
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind

__all__ = ["sshd"]

_serial = itertools.count()
# Not a real hash: passwd -S and usermod only look at its first character.
PASSWORD = "$6$vigiltest$" + "x" * 86


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def status(user: str) -> str:
    """passwd -S's second field: L (locked), P (usable password), NP (none)."""
    return _run("passwd", "-S", user).split()[1]


def shadow(user: str) -> list[str]:
    return _run("getent", "shadow", user).strip().split(":")


@pytest.fixture
def user() -> Iterator[str]:
    """A throwaway account with a password, removed afterwards whatever happens."""
    name = f"vigiltest{os.getpid()}x{next(_serial)}"
    _run("useradd", "-M", "-s", "/usr/sbin/nologin", name)
    try:
        _run("usermod", "-p", PASSWORD, name)
        yield name
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", name], check=False, capture_output=True)


def lock(target: str, kind: ActionKind = ActionKind.LOCK) -> Action:
    return Action(
        responder="account",
        kind=kind,
        target=target,
        ttl=timedelta(hours=1),
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
    )


def responder(**settings: object) -> AccountResponder:
    return AccountResponder(AccountSettings.model_validate(settings), ResponderContext())


def test_lock_then_unlock_shows_l_then_p(user: str) -> None:
    """usermod -L locks the password (passwd -S: L) and revert gives it back (P)."""
    accounts = responder()
    action = lock(user)
    assert status(user) == "P"
    accounts.act(action)
    assert status(user) == "L"
    assert accounts.check() == {user}
    accounts.revert(action)
    assert status(user) == "P"
    assert accounts.check() == set()
    assert shadow(user)[1] == PASSWORD


def test_lock_is_idempotent_and_unlock_undoes_it_once(user: str) -> None:
    """Locking twice holds one lock, and one revert restores the password."""
    accounts = responder()
    action = lock(user)
    accounts.act(action)
    accounts.act(action)
    accounts.revert(action)
    assert status(user) == "P"


def test_expire_sets_and_restores_the_expiry_date(user: str) -> None:
    """expire: true expires the account (stops key logins) and revert restores the date."""
    _run("usermod", "--expiredate", "2030-01-01", user)
    before = shadow(user)[7]
    accounts = responder(expire=True)
    action = lock(user)
    accounts.act(action)
    assert shadow(user)[7] == "1"
    assert status(user) == "L"
    accounts.revert(action)
    assert shadow(user)[7] == before
    assert status(user) == "P"


def test_an_account_locked_before_vigil_stays_locked_after_revert(user: str) -> None:
    """A lock the administrator set is not vigil's to lift, nor reported as vigil's."""
    _run("usermod", "-L", user)
    accounts = responder()
    action = lock(user)
    accounts.act(action)
    assert action.params["account_before"] == {"locked": True, "expire": ""}
    accounts.revert(action)
    assert status(user) == "L"


def test_check_reports_only_accounts_this_responder_locked(user: str) -> None:
    """An account locked by someone else is not in check(), so no reconciliation unlocks it."""
    _run("usermod", "-L", user)
    assert responder().check() == set()


def test_kill_sessions_ends_the_users_processes(user: str) -> None:
    """kill_sessions: true ends every process of the user after the lock."""
    uid = _run("id", "-u", user).strip()
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "60"]
    )
    try:
        responder(kill_sessions=True).act(lock(user))
        assert proc.wait(timeout=10) == -9
    finally:
        proc.kill()
        proc.wait()


def test_kill_sessions_without_processes_is_fine(user: str) -> None:
    """No process to end (pkill exit 1) is not an error."""
    responder(kill_sessions=True).act(lock(user))
    assert status(user) == "L"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("root", "refusing to lock root"),
        ("daemon", "uid 1 is below min_uid 1000"),
        ("nobody-here-vigil", "no user 'nobody-here-vigil'"),
        ("mallory; id", "not a valid user name"),
        ("$(id)", "not a valid user name"),
        ("-e", "not a valid user name"),
        ("bob\n", "not a valid user name"),
    ],
)
def test_protected_or_invalid_users_are_refused(target: str, message: str) -> None:
    """root, system accounts, unknown and malformed names are refused before any change."""
    daemon = shadow("daemon")
    with pytest.raises(TargetRefused, match=message):
        responder().act(lock(target))
    assert shadow("daemon") == daemon


def test_min_uid_is_configurable(user: str) -> None:
    """An account under a raised min_uid is refused."""
    with pytest.raises(TargetRefused, match="below min_uid 60000"):
        responder(min_uid=60000).act(lock(user))
    assert status(user) == "P"


def test_a_block_action_is_refused(user: str) -> None:
    """The account responder only locks; it refuses any other kind of action."""
    with pytest.raises(TargetRefused, match="only locks users"):
        responder().act(lock(user, ActionKind.BLOCK))


def test_revert_of_a_removed_account_is_not_an_error(user: str) -> None:
    """Unlocking an account that no longer exists has nothing to undo."""
    accounts = responder()
    action = lock(user)
    accounts.act(action)
    _run("userdel", user)
    accounts.revert(action)
    assert accounts.check() == set()


def test_lock_and_unlock_over_ssh(sshd: SshServer, user: str) -> None:
    """With ssh:, the same commands run on the remote host through a verified connection."""
    accounts = responder(
        ssh={
            "host": sshd.host,
            "port": sshd.port,
            "key": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts),
        }
    )
    try:
        action = lock(user)
        accounts.act(action)
        assert status(user) == "L"
        assert accounts.check() == {user}
        accounts.revert(action)
        assert status(user) == "P"
    finally:
        accounts.close()


def test_the_ssh_login_account_is_never_locked(tmp_path: Path) -> None:
    """Locking the account vigil logs in with would cut vigil off: refused."""
    accounts = responder(
        ssh={
            "host": "192.0.2.1",
            "user": "vigil",
            "key": str(tmp_path / "key"),
            "known_hosts": str(tmp_path / "known_hosts"),
        }
    )
    with pytest.raises(TargetRefused, match=r"logs in to 192\.0\.2\.1 as it"):
        accounts.act(lock("vigil"))
