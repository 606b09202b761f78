"""Generic syslog files (/var/log/syslog, /var/log/messages, journalctl exports).

Every line with an RFC 3164, ISO/RFC 3339 or RFC 5424 header is an event with
`@timestamp`, `host.name`, `process.name`, `process.pid` and its body as `message`;
lines of sshd, PAM, sudo, su, cron, logind, the account tools and kernel packet logs
also get the fields their own parsers give them (see `syslog_family`). A line with
no header is a reject. This is the fallback of the family: `sshd` and `netfilter` win
the files they fit.
"""

from __future__ import annotations

from vigil.parsers.syslog_family import SyslogFamilyParser


class SyslogParser(SyslogFamilyParser):
    name = "syslog"
    summary = "syslog (RFC 3164, RFC 3339, RFC 5424) with sshd/PAM/sudo/netfilter fields"
    priority = 1
