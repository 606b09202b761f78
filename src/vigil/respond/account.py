"""The `account` responder: lock and unlock a user account, here or over SSH.

Lock is `usermod -L USER` (a `!` before the password hash); with `expire: true` also
`--expiredate 1` (expired in 1970), which is what stops logins that never ask for the
password, such as SSH keys; with `kill_sessions: true` the user's processes are then
ended (`pkill -KILL -u USER`). Unlock puts back what the lock changed and nothing more:
a password that was already locked before vigil stays locked, and the expiry date is
restored to what it was. What it was is kept in the action's `params`
(`account_before`), which the action record stores.

User names come from alerts, so they pass `respond.targets.user_target` (a strict
pattern, never root), and the account must exist with a uid of at least `min_uid`
(1000: no system account) before anything changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vigil.errors import ConfigError, ResponderError, TargetRefused
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind
from vigil.respond.runner import LocalRunner, Runner
from vigil.respond.ssh_settings import SshConnection
from vigil.respond.targets import user_target

if TYPE_CHECKING:
    from vigil.respond.ssh_runner import SshRunner

# getent's exit status when a key is not in the database.
_NOT_FOUND = 2
# pkill's exit status when no process matched.
_NO_PROCESS = 1


class AccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    expire: bool = Field(
        default=False, description="also expire the account, which stops key logins too"
    )
    kill_sessions: bool = Field(default=False, description="end the user's processes on lock")
    min_uid: int = Field(default=1000, ge=1, description="lowest uid vigil may lock (uid 0 never)")
    ssh: SshConnection | None = Field(
        default=None, description="lock on this remote host instead of here"
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how long one local command may take"
    )


class AccountResponder:
    id: ClassVar[str] = "account"
    kind: ClassVar[ActionKind] = ActionKind.LOCK
    Settings: ClassVar[type[BaseModel]] = AccountSettings

    def __init__(
        self,
        settings: BaseModel,
        context: ResponderContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(settings, AccountSettings):
            raise ConfigError(f"account needs AccountSettings, not {type(settings).__name__}")
        self.settings = settings
        self.context = context
        self._ssh: SshRunner | None = None
        self.runner: Runner
        if settings.ssh is not None:
            self.runner = self._ssh = settings.ssh.runner(sleep=sleep)
        else:
            self.runner = LocalRunner(timeout=settings.timeout_seconds)
        # The accounts this responder locked: check() reports only these, so an account
        # an administrator locked is never taken for vigil's (and never unlocked by a
        # reconciliation). After a restart it starts empty; re-locking is a no-op.
        self._mine: set[str] = set()

    def act(self, action: Action) -> None:
        user = self._user(action)
        uid = self._uid(user)
        if uid is None:
            raise TargetRefused(f"no user {user!r} on {self._where()}")
        if uid == 0 or uid < self.settings.min_uid:
            raise TargetRefused(
                f"refusing to lock {user!r}: uid {uid} is below min_uid {self.settings.min_uid}"
            )
        shadow = self._shadow([user]).get(user)
        if shadow is None:
            raise ResponderError(f"account: {user!r} has no shadow entry on {self._where()}")
        # The first act on a record keeps what the account was; a repeated act (after a
        # restart) must not take vigil's own lock for the administrator's.
        action.params.setdefault(
            "account_before", {"locked": shadow[1].startswith("!"), "expire": shadow[7]}
        )
        argv = ["usermod", "-L"]
        if self.settings.expire:
            argv += ["--expiredate", "1"]
        self.runner.run([*argv, "--", user])
        self._mine.add(user)
        if self.settings.kill_sessions:
            done = self.runner.run(["pkill", "-KILL", "-u", user], check=False)
            if done.returncode not in (0, _NO_PROCESS):
                raise ResponderError(
                    f"account: locked {user!r} but could not end its sessions "
                    f"(pkill exit {done.returncode}): {done.stderr.strip() or 'no message'}"
                )

    def revert(self, action: Action) -> None:
        user = self._user(action)
        if self._uid(user) is None:
            # A removed account holds no lock.
            self._mine.discard(user)
            return
        before: dict[str, Any] = action.params.get("account_before") or {}
        argv = ["usermod"]
        if not before.get("locked", False):
            argv.append("-U")
        if self.settings.expire:
            argv += ["--expiredate", str(before.get("expire", ""))]
        if len(argv) > 1:
            self.runner.run([*argv, "--", user])
        self._mine.discard(user)

    def check(self) -> set[str]:
        """Which of the accounts this responder locked are locked now."""
        if not self._mine:
            return set()
        shadow = self._shadow(sorted(self._mine))
        return {user for user, fields in shadow.items() if fields[1].startswith("!")}

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()

    def _user(self, action: Action) -> str:
        if action.kind is not ActionKind.LOCK:
            raise TargetRefused(f"account only locks users; cannot {action.kind}")
        user = user_target(action.target)
        ssh = self.settings.ssh
        if ssh is not None and ssh.user == user:
            raise TargetRefused(f"refusing to lock {user!r}: vigil logs in to {ssh.host} as it")
        return user

    def _uid(self, user: str) -> int | None:
        done = self.runner.run(["getent", "passwd", user], check=False)
        if done.returncode == _NOT_FOUND:
            return None
        entries = _entries(done.stdout, 7) if done.returncode == 0 else {}
        if user not in entries:
            raise ResponderError(
                f"account: cannot look up {user!r} (getent exit {done.returncode}): "
                f"{done.stderr.strip() or 'no message'}"
            )
        try:
            return int(entries[user][2])
        except ValueError:
            raise ResponderError(f"account: unreadable uid of {user!r}") from None

    def _shadow(self, users: Iterable[str]) -> dict[str, list[str]]:
        """name → shadow fields (password at 1, expiry at 7) of those that exist."""
        done = self.runner.run(["getent", "shadow", *users], check=False)
        if done.returncode not in (0, _NOT_FOUND):
            raise ResponderError(
                f"account: cannot read the shadow database (getent exit {done.returncode}): "
                f"{done.stderr.strip() or 'no message'}"
            )
        return _entries(done.stdout, 9)

    def _where(self) -> str:
        return self.settings.ssh.host if self.settings.ssh is not None else "this host"


def _entries(text: str, fields: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= fields:
            out[parts[0]] = parts
    return out
