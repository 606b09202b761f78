"""The messages OpenSSH's sshd writes, as message kinds.

`event.action` vocabulary (every sshd action starts with `ssh_`), with `event.outcome`:

- `ssh_login` (failure, success; unknown for `Postponed`/`Partial`):
  `Failed <method> for [invalid user] X from IP port N ssh2`, `Accepted <method> ...`
- `ssh_invalid_user` (failure): `Invalid user X from IP [port N]`
- `ssh_user_not_allowed` (failure): `User X from IP not allowed because ...`
- `ssh_max_auth_tries` (failure): `Disconnecting: Too many authentication failures ...`,
  `error: maximum authentication attempts exceeded for [invalid user] X from IP ...`
- `ssh_disconnect` (unknown): `Connection closed/reset by [invalid/authenticating user X]
  IP port N`, `Disconnected from [user X] IP port N`, `Received disconnect from IP port
  N:11: reason`
- `ssh_connection` (unknown): `Connection from IP port N on IP port N`
- `ssh_connection_refused` (failure): `refused connect from HOST (IP)` (TCP wrappers)
- `ssh_no_identification` (failure): `Did not receive identification string from IP`
- `ssh_bad_protocol_version` (failure): `Bad protocol version identification '...' from
  IP`, `banner exchange: Connection from IP port N: invalid format`
- `ssh_negotiation_failed` (failure): `Unable to negotiate with IP port N: no matching
  key exchange method found. ...`
- `ssh_auth_timeout` (failure): `fatal: Timeout before authentication for IP port N`
- `ssh_reverse_mapping_failed` (unknown): `reverse mapping checking getaddrinfo for HOST
  [IP] failed - POSSIBLE BREAK-IN ATTEMPT!`, `Address IP maps to HOST, but ...`
- `ssh_server_listening` (success): `Server listening on ADDR port N.`

and, in `sshd_protocol_messages` (transport errors, sessions, follow-up lines):

- `ssh_protocol_error` (failure): a client that broke the SSH transport protocol:
  `ssh_dispatch_run_fatal: Connection from [user X] IP port N: reason`, `Bad packet
  length N.`, `Corrupted MAC on input.`, `Disconnecting: bad client public DH value`,
  `Magic value check failed (N) on obfuscated handshake from IP port N`
- `ssh_no_identification`, `ssh_bad_protocol_version` (failure), as above, also for
  `error: kex_exchange_identification: reason` (no address: sshd writes the address on
  a line of its own, `banner exchange: ...` or `Connection closed by IP port N`)
- `ssh_negotiation_failed` (failure), also for `fatal: Unable to negotiate a key
  exchange method` (no address)
- `ssh_disconnect` (unknown), also for `Read error from remote host IP [port N]: reason`
  and `fatal: Write failed: reason`
- `ssh_auth_request` (failure): `input_userauth_request: invalid user X [preauth]`, the
  second line of a connection already logged as `Invalid user X from IP` (no address)
- `ssh_max_auth_tries` (failure), also for `PAM service(sshd) ignoring max retries; N > M`
- `ssh_session_start`, `ssh_session_close` (success): `Starting session: shell on pts/N
  for X from IP port N id N`, `Close session: user X from IP port N id N`

Other sshd lines (`User child is on pid N`, `Received signal N; terminating.`) are plain
events with their syslog fields.

Fields: `user.name`, `source.ip`, `source.port`, `source.domain`, `event.reason`,
`ssh.auth.method`, `ssh.auth.invalid_user`, `ssh.auth.key.type`,
`ssh.auth.key.fingerprint` (see `syslog_fields`). Brute-force attempts are the
`ssh_login` failures whose method is not `publickey`, each weighted by `event.count`
(rsyslog's `message repeated N times: [ Failed ... ]` is one row with count N);
`ssh_invalid_user`, `ssh_auth_request`, `ssh_max_auth_tries`, the protocol errors and the
PAM actions are not attempts.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.message_kinds import MessageKind, address, domain, port
from vigil.parsers.syslog_fields import SF
from vigil.schema.fields import F

# OpenSSH 9.8 split sshd into sshd-session (and sshd-auth) processes.
SSHD_PROGRAMS = ("sshd", "sshd-session", "sshd-auth")
SSHD = frozenset(SSHD_PROGRAMS)

FROM = r"(?P<ip>\S+?)(?: port (?P<port>\d+))?"
PREAUTH = r"(?: \[preauth\])?\s*$"
# The client chooses the user name and sshd writes it verbatim (up to 100 characters),
# so it may hold ` from ADDR port N ssh2` itself: the address is the LAST one of the
# message, and the user everything before it. The lenient patterns take the user
# greedily (`.*`) before a tail anchored at the message's end, so the tail's own
# ` from ADDR` is the last one; the one-pass patterns take a user without spaces and
# are anchored at the end too, so a user with spaces always falls through to them.
# A tail must never match a mere suffix of the real one (` 22 [preauth]` read as
# address `22`): where sshd writes ` ADDR port N` after the user with no ` from `, the
# port is required (sshd always writes it there), in the groups `uip` and `uport`.
USER_ADDR = r"(?P<user>.*) (?P<uip>\S+) port (?P<uport>\d+)"


def source_fields(extra: dict[str, pl.Expr] | None = None) -> dict[str, pl.Expr]:
    return {
        F.SOURCE_IP: address("ip"),
        SF.SOURCE_DOMAIN: domain("ip"),
        F.SOURCE_PORT: port("port"),
        **(extra or {}),
    }


def user_source_fields(extra: dict[str, pl.Expr] | None = None) -> dict[str, pl.Expr]:
    """The source of a pattern that reads `uip`/`uport` after a user (`USER_ADDR`) and
    `ip`/`port` otherwise (one of the two pairs is null)."""
    return {
        F.SOURCE_IP: pl.coalesce(address("uip"), address("ip")),
        SF.SOURCE_DOMAIN: pl.coalesce(domain("uip"), domain("ip")),
        F.SOURCE_PORT: pl.coalesce(port("uport"), port("port")),
        **(extra or {}),
    }


# `for [invalid user] X`: the lenient patterns capture the qualifier as `a` and the user
# as `user`; the one-pass ones capture the first word as `a` and, after `user `, the
# user as `user`. In one-pass patterns an address that follows an optional word must
# start with a digit or a colon (IPv6 starting with a-f falls through to the lenient
# pattern).
_USER = pl.coalesce("user", "a")
_INVALID = (pl.col("a").is_in(["invalid", "illegal"]) & pl.col("user").is_not_null()).fill_null(
    False
)
_FAST_FOR = (
    r"for (?P<a>[^ ]*) (?:user (?P<user>[^ ]*) )?from (?P<ip>[0-9:][^ ]*) port (?P<port>[0-9]+)"
)

_VERDICT = pl.col("verdict").replace_strict(
    {"Failed": "failure", "Accepted": "success"}, default="unknown"
)
_LOGIN_FIELDS = {
    F.USER_NAME: _USER,
    SF.SSH_AUTH_METHOD: pl.col("method"),
    SF.SSH_INVALID_USER: _INVALID,
}
_LOGIN = MessageKind(
    name="sshd_login",
    starts=("Failed ", "Accepted ", "Postponed ", "Partial "),
    pattern=(
        r"(?P<verdict>Failed|Accepted|Postponed|Partial) (?P<method>[\w/-]+) for "
        rf"(?:(?P<a>invalid|illegal) user )?(?P<user>.*) from {FROM}"
        r"(?: ssh\d?)?(?:: .*?)?" + PREAUTH
    ),
    # What OpenSSH writes for a user without spaces; a suffix (`: info`, `[preauth]`),
    # no port or an IPv6 address starting with a letter take the lenient pattern.
    fast=(r"(?P<verdict>Failed|Accepted|P(?:ostponed|artial)) (?P<method>[^ ]+) " + _FAST_FOR)
    + " ssh2$",
    action="ssh_login",
    outcome=_VERDICT,
    category="authentication",
    fields=source_fields(_LOGIN_FIELDS),
    programs=SSHD,
)
# Publickey logins name the key; a kind of their own keeps the common pattern short.
_LOGIN_KEY = MessageKind(
    name="sshd_login_publickey",
    starts=tuple(f"{v} publickey " for v in ("Failed", "Accepted", "Postponed", "Partial")),
    pattern=(
        r"(?P<verdict>Failed|Accepted|Postponed|Partial) (?P<method>publickey) for "
        rf"(?:(?P<a>invalid|illegal) user )?(?P<user>.*) from {FROM}"
        r"(?: ssh\d?)?(?:: (?P<keytype>[\w-]+) (?P<fingerprint>\S+).*?)?" + PREAUTH
    ),
    # What OpenSSH 6.8 and later write; anything else (a suffix, no port, an IPv6
    # address starting with a letter) takes the lenient pattern.
    fast=(
        r"(?P<verdict>Failed|Accepted|P(?:ostponed|artial)) (?P<method>publickey) for "
        r"(?P<a>[^ ]*) (?:user (?P<user>[^ ]*) )?from (?P<ip>[0-9:][^ ]*) port (?P<port>[0-9]+)"
        r" ssh2: (?P<keytype>[A-Za-z0-9_-]+) (?P<fingerprint>[^ ]+)$"
    ),
    action="ssh_login",
    outcome=_VERDICT,
    category="authentication",
    fields=source_fields(
        {
            **_LOGIN_FIELDS,
            SF.SSH_KEY_TYPE: pl.col("keytype"),
            SF.SSH_KEY_FINGERPRINT: pl.col("fingerprint"),
        }
    ),
    programs=SSHD,
)
_INVALID_USER = MessageKind(
    name="sshd_invalid_user",
    starts=("Invalid user ", "Illegal user "),
    pattern=rf"(?:Invalid|Illegal) user (?P<user>.*) from {FROM}" + PREAUTH,
    fast=r"I(?:nvalid|llegal) user (?P<user>[^ ]*) from (?P<ip>[^ ]+)(?: port (?P<port>[0-9]+))?$",
    action="ssh_invalid_user",
    outcome="failure",
    category="authentication",
    fields=source_fields({F.USER_NAME: pl.col("user"), SF.SSH_INVALID_USER: pl.lit(True)}),
    programs=SSHD,
)
_NOT_ALLOWED = MessageKind(
    name="sshd_user_not_allowed",
    starts=("User ",),
    pattern=r"User (?P<user>.*) from (?P<ip>\S+) not allowed because (?P<reason>.+?)\s*$",
    action="ssh_user_not_allowed",
    outcome="failure",
    category="authentication",
    fields={
        F.SOURCE_IP: address("ip"),
        SF.SOURCE_DOMAIN: domain("ip"),
        F.USER_NAME: pl.col("user"),
        F.EVENT_REASON: pl.col("reason"),
        SF.SSH_INVALID_USER: pl.lit(False),
    },
    programs=SSHD,
)
_TOO_MANY = MessageKind(
    name="sshd_too_many_failures",
    starts=(
        "Disconnecting: Too many authentication failures",
        "Disconnecting authenticating user ",
        "Disconnecting invalid user ",
    ),
    pattern=(
        r"Disconnecting(?:: Too many authentication failures"
        r"(?: for (?:(?P<a>invalid|illegal) user )?(?P<user>.*?))?"
        r"| (?P<qual>invalid|authenticating) user (?P<user2>.*) (?P<ip>\S+) port (?P<port>\d+)"
        r": Too many authentication failures)" + PREAUTH
    ),
    action="ssh_max_auth_tries",
    outcome="failure",
    category="authentication",
    fields=source_fields(
        {
            F.USER_NAME: pl.coalesce("user", "user2"),
            F.EVENT_REASON: pl.lit("too many authentication failures"),
            SF.SSH_INVALID_USER: pl.when(pl.col("qual").is_not_null())
            .then(pl.col("qual") == "invalid")
            .when(pl.col("user").is_not_null())
            .then(pl.col("a").is_not_null()),
        }
    ),
    programs=SSHD,
)
_MAX_EXCEEDED = MessageKind(
    name="sshd_max_attempts_exceeded",
    starts=("maximum authentication attempts exceeded for ",),
    pattern=(
        r"(?:error: )?maximum authentication attempts exceeded for "
        rf"(?:(?P<a>invalid|illegal) user )?(?P<user>.*) from {FROM}(?: ssh\d?)?" + PREAUTH
    ),
    fast=r"(?:error: )?maximum authentication attempts exceeded "
    + _FAST_FOR
    + r" ssh2(?: \[preauth\])?$",
    action="ssh_max_auth_tries",
    outcome="failure",
    category="authentication",
    fields=source_fields(
        {
            F.USER_NAME: _USER,
            F.EVENT_REASON: pl.lit("maximum authentication attempts exceeded"),
            SF.SSH_INVALID_USER: _INVALID,
        }
    ),
    programs=SSHD,
)
_CLOSED = MessageKind(
    name="sshd_connection_closed",
    starts=("Connection closed by ", "Connection reset by ", "Disconnected from "),
    pattern=(
        r"(?:Connection (?P<how>closed|reset) by|Disconnected from)"
        # Any word before ` user ` (sshd writes invalid or authenticating; a patched or
        # newer sshd may write another): the line is still the end of a connection.
        rf"(?:(?: (?P<qual>[^ ]+))? user {USER_ADDR}| {FROM})" + PREAUTH
    ),
    # One-pass: after the address, the end or a space then `port` or `[preauth]`.
    fast=(
        r"(?:Connection (?P<how>closed|reset) by|Disconnected from) "
        r"(?:(?P<qual>invalid|authenticating) )?(?:user (?P<user>[^ ]*) )?(?P<ip>[0-9:][^ ]*)"
        r"(?: (?:port (?P<port>[0-9]+)(?: \[preauth\])?|\[preauth\]))?$"
    ),
    action="ssh_disconnect",
    outcome="unknown",
    fields=user_source_fields(
        {
            F.USER_NAME: pl.col("user"),
            F.EVENT_REASON: pl.concat_str(pl.lit("connection "), pl.col("how")),
            SF.SSH_INVALID_USER: pl.when(pl.col("qual").is_not_null()).then(
                pl.col("qual") == "invalid"
            ),
        }
    ),
    programs=SSHD,
)
_RECEIVED_DISCONNECT = MessageKind(
    name="sshd_received_disconnect",
    starts=("Received disconnect from ",),
    pattern=(
        r"(?:error: )?Received disconnect from (?P<ip>\S+?)(?: port (?P<port>\d+))?: ?"
        r"(?P<code>\d+):(?P<reason>.*?)" + PREAUTH
    ),
    fast=(
        r"(?:error: )?Received disconnect from (?P<ip>[0-9.]+)(?: port (?P<port>[0-9]+))?: ?"
        r"(?P<code>[0-9]+):(?P<reason>.*)"
    ),
    action="ssh_disconnect",
    outcome="unknown",
    fields=source_fields(
        {
            F.EVENT_REASON: pl.col("reason")
            .str.strip_chars_end()
            .str.strip_suffix("[preauth]")
            .str.strip_chars()
            .replace("", None)
        }
    ),
    programs=SSHD,
)
_CONNECTION = MessageKind(
    name="sshd_connection",
    starts=("Connection from ",),
    pattern=rf"Connection from {FROM} on (?P<dip>\S+) port (?P<dport>\d+)(?: rdomain \S*)?\s*$",
    action="ssh_connection",
    outcome="unknown",
    category="network",
    fields=source_fields({F.DESTINATION_IP: address("dip"), F.DESTINATION_PORT: port("dport")}),
    programs=SSHD,
)
_REFUSED = MessageKind(
    name="sshd_refused_connect",
    starts=("refused connect from ",),
    pattern=r"refused connect from (?P<host>\S+) \((?:::ffff:)?(?P<ip>[^)\s]+)\)\s*$",
    action="ssh_connection_refused",
    outcome="failure",
    category="network",
    fields={F.SOURCE_IP: address("ip"), SF.SOURCE_DOMAIN: pl.col("host")},
    programs=SSHD,
)
_NO_IDENT = MessageKind(
    name="sshd_no_identification",
    starts=("Did not receive identification string from ",),
    pattern=rf"Did not receive identification string from {FROM}\s*$",
    action="ssh_no_identification",
    outcome="failure",
    category="network",
    fields=source_fields(),
    programs=SSHD,
)
_BAD_VERSION = MessageKind(
    name="sshd_bad_protocol_version",
    starts=("Bad protocol version identification ",),
    pattern=rf"Bad protocol version identification '.*' from {FROM}\s*$",
    action="ssh_bad_protocol_version",
    outcome="failure",
    category="network",
    fields=source_fields(),
    programs=SSHD,
)
_BANNER = MessageKind(
    name="sshd_banner_exchange",
    starts=("banner exchange: Connection from ",),
    pattern=rf"banner exchange: Connection from {FROM}: (?P<reason>.+?)" + PREAUTH,
    action="ssh_bad_protocol_version",
    outcome="failure",
    category="network",
    fields=source_fields({F.EVENT_REASON: pl.col("reason")}),
    programs=SSHD,
)
_NEGOTIATE = MessageKind(
    name="sshd_unable_to_negotiate",
    starts=("Unable to negotiate with ",),
    pattern=(
        r"(?:fatal: )?Unable to negotiate with (?P<ip>[^ :]+|\S+?)(?: port (?P<port>\d+))?: "
        r"(?P<reason>no matching .*? found)\..*$"
    ),
    action="ssh_negotiation_failed",
    outcome="failure",
    category="network",
    fields=source_fields({F.EVENT_REASON: pl.col("reason")}),
    programs=SSHD,
)
_TIMEOUT = MessageKind(
    name="sshd_auth_timeout",
    starts=("Timeout before authentication for ",),
    pattern=rf"(?:fatal: )?Timeout before authentication for {FROM}\s*$",
    action="ssh_auth_timeout",
    outcome="failure",
    category="authentication",
    fields=source_fields(),
    programs=SSHD,
)
_REVERSE = MessageKind(
    name="sshd_reverse_mapping",
    starts=("reverse mapping checking getaddrinfo for ",),
    pattern=(
        r"reverse mapping checking getaddrinfo for (?P<host>\S+) \[(?P<ip>[^\]\s]+)\] failed"
        r"(?: - POSSIBLE BREAK-IN ATTEMPT!)?\s*$"
    ),
    action="ssh_reverse_mapping_failed",
    outcome="unknown",
    fields={F.SOURCE_IP: address("ip"), SF.SOURCE_DOMAIN: pl.col("host")},
    programs=SSHD,
)
_ADDRESS_MAPS = MessageKind(
    name="sshd_address_maps",
    starts=("Address ",),
    pattern=(
        r"Address (?P<ip>\S+) maps to (?P<host>[^,\s]+), but this does not map back to the "
        r"address(?: - POSSIBLE BREAK-IN ATTEMPT!)?\s*$"
    ),
    action="ssh_reverse_mapping_failed",
    outcome="unknown",
    fields={F.SOURCE_IP: address("ip"), SF.SOURCE_DOMAIN: pl.col("host")},
    programs=SSHD,
)
_LISTENING = MessageKind(
    name="sshd_server_listening",
    starts=("Server listening on ",),
    pattern=r"Server listening on \S+ port \d+\.?\s*$",
    action="ssh_server_listening",
    outcome="success",
    programs=SSHD,
)

SSHD_KINDS: tuple[MessageKind, ...] = (
    _LOGIN,
    _LOGIN_KEY,
    _INVALID_USER,
    _NOT_ALLOWED,
    _TOO_MANY,
    _MAX_EXCEEDED,
    _CLOSED,
    _RECEIVED_DISCONNECT,
    _CONNECTION,
    _REFUSED,
    _NO_IDENT,
    _BAD_VERSION,
    _BANNER,
    _NEGOTIATE,
    _TIMEOUT,
    _REVERSE,
    _ADDRESS_MAPS,
    _LISTENING,
)
