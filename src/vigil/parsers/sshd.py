"""OpenSSH logs: auth.log, /var/log/secure, `journalctl -u ssh` output.

The syslog family parser (see `syslog_family`) with sshd's message kinds
(`sshd_messages` has the `event.action` vocabulary and the fields). The other lines of
an auth.log (sudo, su, CRON, systemd-logind, useradd, passwd, polkit) are events too.
It claims a file when its first lines are mostly auth lines (auth programs, PAM) and at
least one is from sshd.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from vigil.parsers.auth_messages import AUTH_KINDS
from vigil.parsers.base import ParseContext
from vigil.parsers.message_kinds import MessageKind
from vigil.parsers.sshd_messages import SSHD_KINDS, SSHD_PROGRAMS
from vigil.parsers.sshd_protocol_messages import SSHD_PROTOCOL_KINDS
from vigil.parsers.syslog_family import SyslogFamilyParser
from vigil.parsers.syslog_header import HEADER_PATTERNS
from vigil.schema.fields import F

# Programs that write to the auth/authpriv facility on Debian and RHEL hosts: their
# lines make a file an auth.log, and Sigma's `service: auth` means them. CRON and systemd
# count through their PAM lines only (an event category below): their other lines fill
# /var/log/syslog too.
AUTH_PROGRAMS = (
    *SSHD_PROGRAMS,
    "sudo",
    "su",
    "systemd-logind",
    "login",
    "passwd",
    "chpasswd",
    "chage",
    "useradd",
    "userdel",
    "usermod",
    "groupadd",
    "groupdel",
    "groupmod",
    "gpasswd",
    "adduser",
    "polkitd",
    "pkexec",
    "unix_chkpwd",
    "gdm-password",
    "lightdm",
)
AUTH_CATEGORIES = ("authentication", "session", "iam")
# A file is an auth log when at least this share of its sampled events are auth lines.
AUTH_SHARE = 0.5


def _patterns(kinds: tuple[MessageKind, ...]) -> dict[str, str]:
    return {kind.name: kind.pattern for kind in kinds}


class SshdParser(SyslogFamilyParser):
    name = "sshd"
    summary = "OpenSSH auth.log/secure/journal lines (and the rest of an auth.log)"
    patterns: ClassVar[dict[str, str]] = {
        **HEADER_PATTERNS,
        **_patterns(SSHD_KINDS),
        **_patterns(SSHD_PROTOCOL_KINDS),
        **_patterns(AUTH_KINDS),
    }
    priority = 20

    @classmethod
    def sniffed(cls, frame: pl.DataFrame, ctx: ParseContext) -> tuple[float, pl.DataFrame]:
        """The share of events, if some sampled line is from sshd and most are from
        auth programs; else 0 (a generic syslog is the `syslog` parser's)."""
        events = cls.sniff_frame(frame, ctx)
        if events.height == 0:
            return 0.0, events
        program = pl.col(F.PROCESS_NAME)
        auth_line = program.is_in(AUTH_PROGRAMS).fill_null(False)
        if F.EVENT_CATEGORY in events.columns:
            auth_line = auth_line | pl.col(F.EVENT_CATEGORY).is_in(AUTH_CATEGORIES).fill_null(False)
        sshd, auth = events.select(
            program.is_in(SSHD_PROGRAMS).any().alias("sshd"), auth_line.mean().alias("auth")
        ).row(0)
        if not sshd or auth < AUTH_SHARE:
            return 0.0, events
        return events.height / max(frame.height, 1), events
