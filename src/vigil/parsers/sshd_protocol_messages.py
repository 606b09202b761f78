"""sshd's transport errors, session lines and follow-up lines, as message kinds.

The `event.action` vocabulary is in `sshd_messages`. These lines never count as
authentication attempts: they are the messages of connections that broke the protocol
(scanners, fuzzers, clients of another protocol on port 22), ended before a login, or
repeat what another line of the same connection already said.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.message_kinds import MessageKind
from vigil.parsers.sshd_messages import (
    FROM,
    PREAUTH,
    SSHD,
    USER_ADDR,
    source_fields,
    user_source_fields,
)
from vigil.parsers.syslog_fields import SF
from vigil.schema.fields import F

_DISPATCH_FATAL = MessageKind(
    name="sshd_dispatch_fatal",
    starts=("ssh_dispatch_run_fatal: Connection from ",),
    pattern=(
        # The user is the client's choice: the address is the last ` ADDR port N: `
        # (the reason after it is sshd's own text).
        r"ssh_dispatch_run_fatal: Connection from "
        rf"(?:(?P<qual>[^ ]+) user {USER_ADDR}|{FROM}): (?P<reason>.+?)" + PREAUTH
    ),
    action="ssh_protocol_error",
    outcome="failure",
    category="network",
    fields=user_source_fields(
        {
            F.USER_NAME: pl.col("user"),
            F.EVENT_REASON: pl.col("reason"),
            SF.SSH_INVALID_USER: pl.when(pl.col("qual").is_not_null()).then(
                pl.col("qual") == "invalid"
            ),
        }
    ),
    programs=SSHD,
)
# Patched sshd with obfuscated handshakes (obfuscated-openssh): a plain SSH client, or
# anything else, fails the check before any key exchange.
_MAGIC = MessageKind(
    name="sshd_obfuscation_magic",
    starts=("Magic value check failed (",),
    pattern=rf"Magic value check failed \((?P<value>\d+)\) on obfuscated handshake from {FROM}\s*$",
    action="ssh_protocol_error",
    outcome="failure",
    category="network",
    fields=source_fields({F.EVENT_REASON: pl.lit("obfuscated handshake magic value check failed")}),
    programs=SSHD,
)
# Lines without an address: sshd names the peer on other lines of the connection.
_PACKET_ERROR = MessageKind(
    name="sshd_packet_error",
    starts=(
        "Bad packet length ",
        "Corrupted MAC on input.",
        "Disconnecting: bad client public DH value",
    ),
    pattern=(
        r"(?:Disconnecting: )?(?P<reason>Bad packet length|Corrupted MAC on input"
        r"|bad client public DH value)(?: (?P<len>\d+))?\.?" + PREAUTH
    ),
    action="ssh_protocol_error",
    outcome="failure",
    category="network",
    fields={F.EVENT_REASON: pl.col("reason")},
    programs=SSHD,
)
_KEX_IDENTIFICATION = MessageKind(
    name="sshd_kex_identification",
    starts=("kex_exchange_identification: ",),
    pattern=r"(?:error: )?kex_exchange_identification: (?P<reason>.+?)" + PREAUTH,
    # The peer closed or reset before sending a banner, or sent a bad one.
    action=pl.when(pl.col("reason").str.contains(r"(?i)connection (?:closed|reset)"))
    .then(pl.lit("ssh_no_identification"))
    .otherwise(pl.lit("ssh_bad_protocol_version")),
    outcome="failure",
    category="network",
    fields={F.EVENT_REASON: pl.col("reason")},
    programs=SSHD,
)
_NEGOTIATE_KEX = MessageKind(
    name="sshd_unable_to_negotiate_kex",
    starts=("Unable to negotiate a key exchange method",),
    pattern=r"(?:fatal: )?Unable to negotiate a key exchange method" + PREAUTH,
    action="ssh_negotiation_failed",
    outcome="failure",
    category="network",
    fields={F.EVENT_REASON: pl.lit("no matching key exchange method found")},
    programs=SSHD,
)
# Old sshd (6.x) ends a connection reset by its peer with this line alone.
_READ_ERROR = MessageKind(
    name="sshd_read_write_error",
    starts=("Read error from remote host ", "Write failed: "),
    pattern=(
        rf"(?:fatal: )?(?:Read error from remote host {FROM}|(?P<write>Write failed)): "
        r"(?P<reason>.+?)" + PREAUTH
    ),
    action="ssh_disconnect",
    outcome="unknown",
    fields=source_fields(
        {
            F.EVENT_REASON: pl.concat_str(
                pl.when(pl.col("write").is_not_null())
                .then(pl.lit("write failed: "))
                .otherwise(pl.lit("read error: ")),
                pl.col("reason"),
            )
        }
    ),
    programs=SSHD,
)
_USERAUTH_REQUEST = MessageKind(
    name="sshd_userauth_request",
    starts=("input_userauth_request: invalid user ", "input_userauth_request: illegal user "),
    pattern=r"input_userauth_request: (?:invalid|illegal) user (?P<user>.*?)" + PREAUTH,
    action="ssh_auth_request",
    outcome="failure",
    category="authentication",
    fields={F.USER_NAME: pl.col("user"), SF.SSH_INVALID_USER: pl.lit(True)},
    programs=SSHD,
)
_PAM_MAX_RETRIES = MessageKind(
    name="sshd_pam_max_retries",
    starts=("PAM service(",),
    pattern=(
        r"PAM service\((?P<service>[^)]*)\) ignoring max retries; "
        r"(?P<tries>\d+) > (?P<max>\d+)\s*$"
    ),
    action="ssh_max_auth_tries",
    outcome="failure",
    category="authentication",
    fields={
        F.EVENT_REASON: pl.concat_str(
            pl.lit("PAM retry limit exceeded ("),
            pl.col("tries"),
            pl.lit(" > "),
            pl.col("max"),
            pl.lit(")"),
        )
    },
    programs=SSHD,
)
_SESSION = MessageKind(
    name="sshd_session",
    starts=("Starting session: ", "Close session: user "),
    pattern=(
        r"(?:Starting session: .+? for|(?P<close>Close) session: user) "
        rf"(?P<user>.+) from {FROM} id \d+\s*$"
    ),
    action=pl.when(pl.col("close").is_not_null())
    .then(pl.lit("ssh_session_close"))
    .otherwise(pl.lit("ssh_session_start")),
    outcome="success",
    category="session",
    fields=source_fields({F.USER_NAME: pl.col("user")}),
    programs=SSHD,
)

SSHD_PROTOCOL_KINDS: tuple[MessageKind, ...] = (
    _DISPATCH_FATAL,
    _MAGIC,
    _PACKET_ERROR,
    _KEX_IDENTIFICATION,
    _NEGOTIATE_KEX,
    _READ_ERROR,
    _USERAUTH_REQUEST,
    _PAM_MAX_RETRIES,
    _SESSION,
)
