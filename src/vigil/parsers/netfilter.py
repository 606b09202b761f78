"""Kernel packet logs of iptables, nftables and ufw (kern.log, `journalctl -k`, dmesg).

A line is a syslog line from the kernel (any header form of `syslog_header`), a
`dmesg -T` line (`[Sat Nov 22 10:00:01 2026] [UFW BLOCK] IN=...`), or a Proxmox
pve-firewall line (`0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=...`).
The packet fields are in `netfilter_messages`. Plain `dmesg` lines carry only the
seconds since boot, so they cannot be dated: they are rejects with that reason. Other
kernel lines of a kern.log are events with their syslog fields.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from vigil.parsers.base import LINE, ParseContext, localize
from vigil.parsers.message_kinds import MSG, ROW
from vigil.parsers.netfilter_messages import NETFILTER_KIND, PACKET, UPTIME
from vigil.parsers.syslog_family import SyslogFamilyParser
from vigil.parsers.syslog_header import HEADER_PATTERNS, reject_rest
from vigil.schema.fields import TIMESTAMP_DTYPE, F

DMESG_T = r"^(?P<head>\[(?P<ctime>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\] )"
PROXMOX = (
    r"^(?P<head>\d+ \d+ (?P<chain>\S+) "
    r"(?P<pts>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}) )"
)
NO_DATE = "kernel packet log without a date (dmesg uptime only)"
NOT_PACKET = "not a kernel packet log"
# A file is a kernel log when at least this share of its sampled events are kernel lines.
KERNEL_SHARE = 0.5


class NetfilterParser(SyslogFamilyParser):
    name = "netfilter"
    summary = "iptables/nftables/ufw kernel packet logs (kern.log, journal, dmesg -T, pve)"
    patterns: ClassVar[dict[str, str]] = {
        **HEADER_PATTERNS,
        NETFILTER_KIND.name: NETFILTER_KIND.pattern,
        "dmesg_t": DMESG_T.removeprefix("^") + PACKET,
        "proxmox": PROXMOX.removeprefix("^") + PACKET,
    }
    priority = 20
    # Packets come from packet logs (`SRC=`) or pf's `filterlog` records.
    sniff_requires = r"SRC=|filterlog"

    def without_header(self, rest: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame]:
        events: list[pl.DataFrame] = []
        rejects: list[pl.DataFrame] = []
        for pattern, timestamp, extra in (
            (DMESG_T, self._dmesg_time(), pl.lit("kernel").alias(F.PROCESS_NAME)),
            (PROXMOX, _proxmox_time(), pl.col("chain").alias(F.RULE_NAME)),
        ):
            if rest.height == 0:
                break
            groups = rest.with_columns(pl.col(LINE).str.extract_groups(pattern).alias("_g"))
            groups = groups.unnest("_g")
            found = pl.col("head").is_not_null()
            rest = groups.filter(~found).select(F.LOG_FILE_LINE, LINE)
            rows = groups.filter(found).select(
                pl.col(F.LOG_FILE_LINE),
                pl.col(LINE).str.slice(pl.col("head").str.len_chars()).alias(MSG),
                timestamp.alias(F.TIMESTAMP),
                extra,
            )
            packets, others = _packets(rows)
            events.append(packets)
            if pattern == DMESG_T:
                # The other kernel lines of `dmesg -T` are dated: events, as in a kern.log.
                events.append(others)
            else:
                rejects.append(reject_rest(others, NOT_PACKET))
        bare = pl.col(LINE).str.contains("^" + UPTIME + PACKET)
        rejects += [reject_rest(rest.filter(bare), NO_DATE), reject_rest(rest.filter(~bare))]
        dataset = pl.lit(self.name).alias(F.EVENT_DATASET)
        found_events = [e.with_columns(dataset) for e in events if e.height]
        extra_events = pl.concat(found_events, how="diagonal_relaxed") if found_events else None
        return extra_events, pl.concat(rejects)

    def _dmesg_time(self) -> pl.Expr:
        naive = pl.col("ctime").str.strptime(
            pl.Datetime("us"), "%a %b %e %H:%M:%S %Y", strict=False
        )
        return localize(naive, self.ctx.tz)

    @classmethod
    def sniffed(cls, frame: pl.DataFrame, ctx: ParseContext) -> tuple[float, pl.DataFrame]:
        """The share of events, if some sampled line is a packet log and most are kernel
        lines; else 0 (a /var/log/syslog with some firewall lines is `syslog`'s)."""
        events = cls.sniff_frame(frame, ctx)
        if events.height == 0 or F.NETWORK_TRANSPORT not in events.columns:
            return 0.0, events
        packet = pl.col(F.NETWORK_TRANSPORT).is_not_null()
        kernel = packet | (pl.col(F.PROCESS_NAME) == "kernel")
        any_packet, share = events.select(
            packet.any().alias("packet"), kernel.fill_null(False).mean().alias("kernel")
        ).row(0)
        if not any_packet or share < KERNEL_SHARE:
            return 0.0, events
        return events.height / max(frame.height, 1), events


def _proxmox_time() -> pl.Expr:
    return pl.col("pts").str.strptime(TIMESTAMP_DTYPE, "%d/%b/%Y:%H:%M:%S %z", strict=False)


def _packets(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(packet log events, other rows) of rows with a `_msg`. A rare path (no syslog
    header), so a join is simpler than keeping line order by hand."""
    rows = rows.with_row_index(ROW)
    fields = NETFILTER_KIND.extract(rows.select(ROW, MSG))
    packets = rows.join(fields, on=ROW, how="inner", maintain_order="left")
    others = rows.filter(~pl.col(ROW).is_in(fields.get_column(ROW).implode()))
    return (
        packets.drop(ROW).rename({MSG: F.MESSAGE}),
        others.drop(ROW).rename({MSG: F.MESSAGE}),
    )
