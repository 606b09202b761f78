"""Messages of PAM and of the other programs that write to auth.log, as message kinds.

`event.action` vocabulary, with `event.outcome`:

- `pam_auth_failure` (failure): `pam_unix(S:auth): authentication failure; ... rhost=H
  user=X`, from any program, also with the legacy `prog(pam_unix)[pid]:` tag
- `pam_auth_failure_summary` (failure): `PAM N more authentication failures; ...`, a
  summary that adds no attempt of its own
- `pam_user_unknown` (failure): `check pass; user unknown`, `user X does not exist`
- `session_opened` / `session_closed` (success): `session opened/closed for user X`
- `password_changed` (success): `pam_unix(S:chauthtok): password changed for X`
- `sudo_command` (success, failure with `event.reason`): `alice : [reason ;] TTY=.. ;
  PWD=.. ; USER=root ; COMMAND=..`
- `switch_user` (success / failure): su's `Successful/FAILED su for root by alice`,
  `(to root) alice on pts/0`, `+ /dev/pts/0 alice:root`
- `session_created` / `session_removed` (success): systemd-logind's `New session 3 of
  user alice.`, `Removed session 3.`
- `cron_command` (success): CRON's `(root) CMD (command)`
- `user_created`, `user_deleted`, `user_modified`, `group_created` (success / failure):
  useradd, userdel, usermod, groupadd

`user.name` is the user the line is about or the one acting; for sudo and su the user
switched to is `user.effective.name`; for account management the account managed is
`user.target.name`. `process.command_line` is the command sudo or cron ran.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.message_kinds import MessageKind, address, domain
from vigil.parsers.syslog_fields import SF
from vigil.schema.fields import F


def _rhost() -> dict[str, pl.Expr]:
    """PAM's rhost is an address or a host name."""
    return {
        F.SOURCE_IP: address("rhost"),
        SF.SOURCE_DOMAIN: domain("rhost"),
        F.USER_NAME: pl.when(pl.col("user") != "").then(pl.col("user")),
    }


# `pam_unix(sshd:auth): `, absent in the legacy `sshd(pam_unix)[pid]: ` form.
_PAM = r"(?:pam_unix\([^)]*\): )?"
# pam_unix writes `user=` last: the user is the rest of the message (it may hold spaces
# or ` rhost=`), and `rhost` the first one, which nothing the client chose precedes.
_PAM_FIELDS = (
    r"logname=[^ ]* uid=[0-9]* euid=[0-9]* tty=[^ ]* ruser=[^ ]* rhost=(?P<rhost>[^ ]*)"
    r"(?: +user=(?P<user>.*?))?\s*$"
)
# One-pass (after the spaces, `user=` or the end): a user without spaces and nothing
# after it; the rest take the lenient pattern.
_FAST_PAM_FIELDS = (
    r"logname=[^ ]* uid=[0-9]* euid=[0-9]* tty=[^ ]* ruser=[^ ]* rhost=(?P<rhost>[^ ]*)"
    r"(?: +(?:user=(?P<user>[^ ]*))?)?$"
)
_PAM_AUTH_FAILURE = MessageKind(
    name="pam_auth_failure",
    starts=("authentication failure; ",),
    pattern=_PAM + r"authentication failure; " + _PAM_FIELDS,
    fast=_PAM + r"authentication failure; " + _FAST_PAM_FIELDS,
    action="pam_auth_failure",
    outcome="failure",
    category="authentication",
    fields=_rhost(),
)
_PAM_MORE = MessageKind(
    name="pam_more_failures",
    starts=("PAM ", *(f"{n} more authentication failure" for n in range(1, 10))),
    pattern=_PAM + r"(?:PAM )?[0-9]+ more authentication failures?; " + _PAM_FIELDS,
    fast=_PAM + r"(?:PAM )?[0-9]+ more authentication failures?; " + _FAST_PAM_FIELDS,
    action="pam_auth_failure_summary",
    outcome="failure",
    category="authentication",
    fields=_rhost(),
)
_PAM_USER_UNKNOWN = MessageKind(
    name="pam_user_unknown",
    starts=("check pass; user unknown",),
    pattern=_PAM + r"check pass; user unknown",
    action="pam_user_unknown",
    outcome="failure",
    category="authentication",
)
_PAM_NO_SUCH_USER = MessageKind(
    name="pam_no_such_user",
    starts=("user ",),
    pattern=_PAM + r'user "?(?P<user>[^ "]+)"? does not exist in /etc/passwd',
    action="pam_user_unknown",
    outcome="failure",
    category="authentication",
    fields={F.USER_NAME: pl.col("user")},
)
_PAM_SESSION = MessageKind(
    name="pam_session",
    starts=("session opened for user ", "session closed for user "),
    pattern=_PAM + r"session (?P<what>opened|closed) for user (?P<user>[^ (]+)",
    action=pl.concat_str(pl.lit("session_"), pl.col("what")),
    outcome="success",
    category="session",
    fields={F.USER_NAME: pl.col("user")},
)
_PAM_PASSWORD = MessageKind(
    name="pam_password_changed",
    starts=("password changed for ",),
    pattern=_PAM + r"password changed for (?P<user>[^ ]+)",
    action="password_changed",
    outcome="success",
    category="iam",
    fields={F.USER_NAME: pl.col("user")},
)
_SUDO = MessageKind(
    name="sudo_command",
    starts=("",),
    pattern=(
        r"\s*(?P<user>\S+) : (?:(?P<reason>[^;]*?) ; )?TTY=[^;]*? ; PWD=(?P<pwd>[^;]*?) ; "
        r"USER=(?P<runas>[^;]*?) ;(?: [A-Z]+=[^;]*? ;)*? COMMAND=(?P<cmd>.*)$"
    ),
    action="sudo_command",
    outcome=pl.when(pl.col("reason").is_null())
    .then(pl.lit("success"))
    .otherwise(pl.lit("failure")),
    category="process",
    fields={
        F.USER_NAME: pl.col("user"),
        F.USER_EFFECTIVE_NAME: pl.col("runas"),
        F.EVENT_REASON: pl.col("reason"),
        SF.PROCESS_COMMAND_LINE: pl.col("cmd"),
        SF.PROCESS_WORKING_DIRECTORY: pl.col("pwd"),
    },
    programs=frozenset({"sudo"}),
)
_SU = MessageKind(
    name="su_switch_user",
    starts=("Successful su for ", "FAILED su for ", "(to ", "FAILED SU (to ", "+ ", "- "),
    pattern=(
        r"(?:(?P<verdict>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)"
        r"|(?P<failed>FAILED SU )?\(to (?P<target2>[^)\s]+)\) (?P<user2>\S+) on \S+"
        r"|(?P<sign>[+-]) \S+ (?P<user3>[^:\s]+):(?P<target3>\S+))\s*$"
    ),
    action="switch_user",
    outcome=pl.when((pl.col("verdict") == "FAILED") | pl.col("failed").is_not_null())
    .then(pl.lit("failure"))
    .when(pl.col("sign") == "-")
    .then(pl.lit("failure"))
    .otherwise(pl.lit("success")),
    category="authentication",
    fields={
        F.USER_NAME: pl.coalesce("user", "user2", "user3"),
        F.USER_EFFECTIVE_NAME: pl.coalesce("target", "target2", "target3"),
    },
    programs=frozenset({"su"}),
)
_LOGIND = MessageKind(
    name="logind_session",
    starts=("New session ", "Removed session "),
    pattern=(
        r"(?:New session \S+ of user (?P<user>[^\s.]+)|(?P<removed>Removed) session \S+?)"
        r"\.?\s*$"
    ),
    action=pl.when(pl.col("removed").is_null())
    .then(pl.lit("session_created"))
    .otherwise(pl.lit("session_removed")),
    outcome="success",
    category="session",
    fields={F.USER_NAME: pl.col("user")},
    programs=frozenset({"systemd-logind"}),
)
_CRON = MessageKind(
    name="cron_command",
    starts=("(",),
    pattern=r"\((?P<user>[^)\s]+)\) CMD \((?P<cmd>.*)\)\s*$",
    action="cron_command",
    outcome="success",
    category="process",
    fields={F.USER_NAME: pl.col("user"), SF.PROCESS_COMMAND_LINE: pl.col("cmd")},
    programs=frozenset({"CRON", "cron", "crond"}),
)
_USERADD = MessageKind(
    name="useradd",
    starts=("new user: ", "failed adding user "),
    pattern=(
        r"(?:new user: name=(?P<user>[^,]+), UID=(?P<uid>\d+),.*"
        r"|(?P<failed>failed) adding user '?(?P<user2>[^',]+)'?,? data deleted)\s*$"
    ),
    action="user_created",
    outcome=pl.when(pl.col("failed").is_null())
    .then(pl.lit("success"))
    .otherwise(pl.lit("failure")),
    category="iam",
    fields={F.USER_TARGET_NAME: pl.coalesce("user", "user2"), SF.USER_TARGET_ID: pl.col("uid")},
    programs=frozenset({"useradd", "adduser"}),
)
_USERDEL = MessageKind(
    name="userdel",
    starts=("delete user ",),
    pattern=r"delete user '?(?P<user>[^'\s]+)'?\s*$",
    action="user_deleted",
    outcome="success",
    category="iam",
    fields={F.USER_TARGET_NAME: pl.col("user")},
    programs=frozenset({"userdel", "deluser"}),
)
_USERMOD = MessageKind(
    name="usermod",
    starts=("add ", "change user ", "lock user ", "unlock user "),
    pattern=(
        r"(?:add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'"
        r"|(?:change|lock|unlock) user '(?P<user2>[^']+)'.*)\s*$"
    ),
    action="user_modified",
    outcome="success",
    category="iam",
    fields={F.USER_TARGET_NAME: pl.coalesce("user", "user2"), SF.GROUP_NAME: pl.col("group")},
    programs=frozenset({"usermod", "useradd", "gpasswd"}),
)
_GROUPADD = MessageKind(
    name="groupadd",
    starts=("new group: ",),
    pattern=r"new group: name=(?P<group>[^,]+), GID=(?P<gid>\d+)\s*$",
    action="group_created",
    outcome="success",
    category="iam",
    fields={SF.GROUP_NAME: pl.col("group"), SF.GROUP_ID: pl.col("gid")},
    programs=frozenset({"groupadd", "useradd", "addgroup"}),
)

AUTH_KINDS: tuple[MessageKind, ...] = (
    _PAM_AUTH_FAILURE,
    _PAM_MORE,
    _PAM_USER_UNKNOWN,
    _PAM_NO_SUCH_USER,
    _PAM_SESSION,
    _PAM_PASSWORD,
    _SUDO,
    _SU,
    _LOGIND,
    _CRON,
    _USERADD,
    _USERDEL,
    _USERMOD,
    _GROUPADD,
)
