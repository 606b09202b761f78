"""The lines of an sshd auth.log: templates, account names, and how one attacker connection
or one benign session becomes rows of the record table."""

from __future__ import annotations

import numpy as np
import polars as pl

from bench.loggen.common import Template, codes

_PREFIX = "{ts} {host} "
_SSHD = _PREFIX + "sshd[{pid}]: "
_PAM_FAIL = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
_PAM_MORE = "PAM {n} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "

TEMPLATES: dict[str, Template] = {
    name: Template(text)
    for name, text in {
        # attackers
        "invalid_user": _SSHD + "Invalid user {user} from {ip} port {port}",
        "check_pass": _SSHD + "pam_unix(sshd:auth): check pass; user unknown",
        "pam_fail_unknown": _SSHD + _PAM_FAIL + "rhost={ip}",
        "pam_fail_user": _SSHD + _PAM_FAIL + "rhost={ip}  user={user}",
        "failed_invalid": _SSHD
        + "Failed password for invalid user {user} from {ip} port {port} ssh2",
        "failed_valid": _SSHD + "Failed password for {user} from {ip} port {port} ssh2",
        "repeated_invalid": _SSHD
        + "message repeated {n} times: [ Failed password for invalid user {user} from {ip}"
        " port {port} ssh2]",
        "repeated_valid": _SSHD
        + "message repeated {n} times: [ Failed password for {user} from {ip} port {port} ssh2]",
        "max_tries_invalid": _SSHD + "error: maximum authentication attempts exceeded for invalid"
        " user {user} from {ip} port {port} ssh2 [preauth]",
        "max_tries_valid": _SSHD + "error: maximum authentication attempts exceeded for {user}"
        " from {ip} port {port} ssh2 [preauth]",
        "too_many": _SSHD + "Disconnecting: Too many authentication failures [preauth]",
        "closed_invalid": _SSHD + "Connection closed by invalid user {user} {ip} port {port}"
        " [preauth]",
        "closed_valid": _SSHD + "Connection closed by authenticating user {user} {ip} port {port}"
        " [preauth]",
        "pam_more_unknown": _SSHD + _PAM_MORE + "rhost={ip}",
        "pam_more_user": _SSHD + _PAM_MORE + "rhost={ip}  user={user}",
        "pam_ignoring": _SSHD + "PAM service(sshd) ignoring max retries; {n} > 3",
        # pre-auth scanners
        "closed_preauth": _SSHD + "Connection closed by {ip} port {port} [preauth]",
        "no_ident": _SSHD + "Did not receive identification string from {ip} port {port}",
        "bye_preauth": _SSHD + "Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
        "kex_fail": _SSHD + "Unable to negotiate with {ip} port {port}: no matching key exchange"
        " method found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"
        " [preauth]",
        # benign
        "accepted_password": _SSHD + "Accepted password for {user} from {ip} port {port} ssh2",
        "accepted_publickey": _SSHD
        + "Accepted publickey for {user} from {ip} port {port} ssh2: {aux}",
        "session_opened": _SSHD
        + "pam_unix(sshd:session): session opened for user {user}(uid={n}) by (uid=0)",
        "logind_new": _PREFIX + "systemd-logind[{pid}]: New session {n} of user {user}.",
        "received_disconnect": _SSHD
        + "Received disconnect from {ip} port {port}:11: disconnected by user",
        "disconnected": _SSHD + "Disconnected from user {user} {ip} port {port}",
        "session_closed": _SSHD + "pam_unix(sshd:session): session closed for user {user}",
        "logind_removed": _PREFIX + "systemd-logind[{pid}]: Removed session {n}.",
        "cron_opened": _PREFIX + "CRON[{pid}]: pam_unix(cron:session): session opened for user"
        " root(uid=0) by (uid=0)",
        "cron_closed": _PREFIX
        + "CRON[{pid}]: pam_unix(cron:session): session closed for user root",
        "sudo_cmd": _PREFIX + "sudo:   {user} : TTY=pts/{n} ; PWD=/home/{user} ; USER=root ;"
        " COMMAND={aux}",
        "sudo_opened": _PREFIX + "sudo: pam_unix(sudo:session): session opened for user root(uid=0)"
        " by {user}(uid={n})",
        "sudo_closed": _PREFIX + "sudo: pam_unix(sudo:session): session closed for user root",
    }.items()
}
T = codes(list(TEMPLATES))
TEMPLATE_LIST = list(TEMPLATES.values())
PREAUTH_KINDS = ("closed_preauth", "no_ident", "bye_preauth", "kex_fail")

# Accounts that exist on the generated host (an attacker guessing one gets "Failed password
# for root", not "Invalid user").
STAFF = ("alice", "bob", "carol", "dave", "erin", "frank", "ubuntu", "deploy")
ACCOUNTS = ("root", "postgres", *STAFF)
BRUTE = (
    "root", "admin", "test", "user", "ubuntu", "oracle", "postgres", "guest", "pi", "ftpuser",
    "support", "git", "deploy", "jenkins", "hadoop", "tomcat", "nagios", "mysql", "dev", "demo",
    "minecraft", "ansible", "vagrant", "docker", "elastic", "zabbix", "backup", "administrator",
    "test1", "user1", "ubnt", "steam", "odoo", "kafka", "sysadmin", "operator",
)  # fmt: skip
SPRAY = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "oscar", "peggy", "trent", "victor", "walter", "john", "mary", "james", "linda",
    "robert", "susan", "michael", "karen", "david", "lisa", "daniel", "nancy", "paul", "sandra",
    "mark", "emma", "olivia", "liam", "noah", "sophia", "mia", "lucas", "amelia", "ethan",
    "chloe", "jack", "zoe", "ryan", "laura", "kevin", "anna", "eric", "julia", "brian", "sara",
    "adam", "eva", "peter", "nina", "simon", "clara", "martin", "alex", "sam",
)  # fmt: skip
USERS = tuple(dict.fromkeys((*ACCOUNTS, *BRUTE, *SPRAY)))
USER = {name: i for i, name in enumerate(USERS)}
COMMANDS = (
    "/usr/bin/apt update",
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/journalctl -u sshd",
    "/usr/bin/tail -n 100 /var/log/syslog",
    "/usr/sbin/nft list ruleset",
    "/usr/bin/docker ps",
)
LOGIND_PID = 587
MAX_TRIES = 6


def user_indices(names: tuple[str, ...], picks: np.ndarray) -> np.ndarray:
    lookup = np.array([USER[n] for n in names], dtype=np.int64)
    out: np.ndarray = lookup[picks]
    return out


def connection_rows(conns: pl.DataFrame) -> pl.DataFrame:
    """Rows of attacker connections. Columns in: conn, actor, ip, user, port, pid, t0, m
    (password attempts, 1..6), lag (seconds from connect to first attempt), step (seconds
    between attempts), collapse (rsyslog folded attempts 2..m into `message repeated`)."""
    valid = pl.col("user").is_in([USER[a] for a in ACCOUNTS])
    first = pl.col("t0") + pl.col("lag")
    end = first + (pl.col("m") - 1) * pl.col("step") + 1

    def slot(
        seq: int, when: pl.Expr, at: pl.Expr, tmpl: pl.Expr, n: pl.Expr | None, attempts: pl.Expr
    ) -> pl.DataFrame:
        return conns.filter(when).select(
            at.alias("t"),
            "conn",
            pl.lit(seq, dtype=pl.Int16).alias("seq"),
            tmpl.cast(pl.Int16).alias("tmpl"),
            "actor",
            "ip",
            "port",
            "user",
            "pid",
            (n if n is not None else pl.lit(None)).cast(pl.Int32).alias("n"),
            attempts.cast(pl.Int32).alias("attempts"),
        )

    def by_validity(if_valid: str, if_not: str) -> pl.Expr:
        return pl.when(valid).then(T[if_valid]).otherwise(T[if_not])

    none = pl.lit(0)
    parts = [
        slot(0, ~valid, pl.col("t0"), pl.lit(T["invalid_user"]), None, none),
        slot(1, ~valid, first - 2, pl.lit(T["check_pass"]), None, none),
        slot(
            2, pl.lit(True), first - 2, by_validity("pam_fail_user", "pam_fail_unknown"), None, none
        ),
        slot(
            3, pl.lit(True), first, by_validity("failed_valid", "failed_invalid"), None, pl.lit(1)
        ),
    ]
    for k in range(1, MAX_TRIES):
        again = (pl.col("m") > k) & ~pl.col("collapse")
        at = first + k * pl.col("step")
        tmpl = by_validity("failed_valid", "failed_invalid")
        parts.append(slot(3 + k, again, at, tmpl, None, pl.lit(1)))
    folded = pl.col("collapse") & (pl.col("m") >= 3)
    repeated = by_validity("repeated_valid", "repeated_invalid")
    six = pl.col("m") == MAX_TRIES
    more = pl.col("m") - 1
    parts += [
        slot(9, folded, end - 1, repeated, more, more),
        slot(10, six, end, by_validity("max_tries_valid", "max_tries_invalid"), None, none),
        slot(11, six, end, pl.lit(T["too_many"]), None, none),
        slot(12, ~six, end, by_validity("closed_valid", "closed_invalid"), None, none),
        slot(
            13, pl.col("m") > 1, end, by_validity("pam_more_user", "pam_more_unknown"), more, none
        ),
        slot(14, six, end, pl.lit(T["pam_ignoring"]), pl.col("m"), none),
    ]
    return pl.concat(parts)


def session_rows(sessions: pl.DataFrame) -> pl.DataFrame:
    """Rows of benign interactive logins. Columns in: conn, ip, user, uid, port, pid, t0,
    typos (0..2 failed passwords first), publickey, key (aux index), session, duration."""
    accept = pl.col("t0") + 3 * pl.col("typos") + 1
    end = accept + pl.col("duration")

    def slot(
        seq: int, when: pl.Expr, at: pl.Expr, tmpl: pl.Expr, n: pl.Expr | None = None, **kw: pl.Expr
    ) -> pl.DataFrame:
        return sessions.filter(when).select(
            at.alias("t"),
            "conn",
            pl.lit(seq, dtype=pl.Int16).alias("seq"),
            tmpl.cast(pl.Int16).alias("tmpl"),
            "ip",
            "port",
            "user",
            kw.get("pid", pl.col("pid")).cast(pl.Int32).alias("pid"),
            (n if n is not None else pl.lit(None)).cast(pl.Int32).alias("n"),
            kw.get("aux", pl.lit(None)).cast(pl.Int32).alias("aux"),
            kw.get("attempts", pl.lit(0)).cast(pl.Int32).alias("attempts"),
        )

    logind = pl.lit(LOGIND_PID)
    parts = []
    for i in range(2):
        typo = pl.col("typos") > i
        at = pl.col("t0") + 3 * i
        parts.append(slot(2 * i, typo, at, pl.lit(T["pam_fail_user"])))
        parts.append(slot(2 * i + 1, typo, at + 2, pl.lit(T["failed_valid"]), attempts=pl.lit(1)))
    method = pl.when(pl.col("publickey")).then(T["accepted_publickey"])
    parts += [
        slot(10, pl.lit(True), accept, method.otherwise(T["accepted_password"]), aux=pl.col("key")),
        slot(11, pl.lit(True), accept, pl.lit(T["session_opened"]), pl.col("uid")),
        slot(12, pl.lit(True), accept, pl.lit(T["logind_new"]), pl.col("session"), pid=logind),
        slot(13, pl.lit(True), end, pl.lit(T["received_disconnect"])),
        slot(14, pl.lit(True), end, pl.lit(T["disconnected"])),
        slot(15, pl.lit(True), end, pl.lit(T["session_closed"])),
        slot(16, pl.lit(True), end, pl.lit(T["logind_removed"]), pl.col("session"), pid=logind),
    ]
    return pl.concat(parts, how="diagonal_relaxed")
