"""Kernel packet logs of iptables, nftables and ufw, as a message kind.

    [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=... SRC=203.0.113.7 DST=198.51.100.10 LEN=60
        TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=51515 DPT=22 WINDOW=1024 ...

The log prefix (`[UFW BLOCK]`, `IPTABLES-DROP:`, `nft drop in:`), trimmed of spaces,
brackets and colons, is `event.action`; `event.outcome` is failure when it says
block/drop/reject/deny, success when it says allow/accept/pass/permit, else unknown.
IN and OUT are the ingress and egress interfaces, LEN the IP packet length, and MAC
the destination MAC, source MAC and ethertype. ICMP has no ports. Other `KEY=value`
fields before SRC (a renamed or unknown one: `XX=enp1s0`) are passed over.

Kernel lines are the usual home of these fields, but firewalls relay them under their
own tag or none, so a line of any program whose message holds ` SRC=` and ` DST=`
is read the same way. UniFi gateways (`[WAN_LOCAL-D-2147483647] DESCR="[WAN_LOCAL]Block
All Traffic" IN=eth8 ...`) name the rule's verdict by a letter in the prefix: `-D-`
(drop) and `-R-` (reject) are failures, `-A-` (accept) a success; DESCR, the rule's
description, is `rule.name`.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.message_kinds import MessageKind, address, port
from vigil.parsers.syslog_fields import SF
from vigil.schema.fields import F

UPTIME = r"(?:\[ *(?P<uptime>[0-9]+\.[0-9]+)\] *)?"
PACKET = (
    r"(?P<prefix>[^=]*?)\s*(?:DESCR=\"(?P<descr>[^\"]*)\" )?"
    r"(?:IN=(?P<in>[^ ]*))?(?: ?OUT=(?P<out>[^ ]*))?"
    r"(?: ?[A-Z]+=[^ ]*)*?"
    r"(?: MAC=(?P<mac>[^ ]*))? SRC=(?P<src>[^ ]+) DST=(?P<dst>[^ ]+) LEN=(?P<len>[0-9]+) "
    r".*?PROTO=(?P<proto>[^ ]+)(?: SPT=(?P<spt>[0-9]+) DPT=(?P<dpt>[0-9]+))?"
)
_DENIED = r"(?i)block|drop|reject|den(?:y|ied)|-[DR]-[0-9]+$"
_ALLOWED = r"(?i)allow|accept|pass|permit|-A-[0-9]+$"
KERNEL = frozenset({"kernel"})


def _mac(start: int) -> pl.Expr:
    """One MAC out of `dst:src:type` (14 octets), in ECS notation (`AA-BB-...`)."""
    mac = pl.col("mac")
    part = mac.str.slice(start, 17).str.to_uppercase().str.replace_all(":", "-", literal=True)
    return pl.when(mac.str.len_bytes() >= 35).then(part)


def _interface(group: str) -> pl.Expr:
    return pl.when(pl.col(group) != "").then(pl.col(group))


_prefix = pl.col("prefix").str.strip_chars(" :[]")
_action = pl.when(_prefix != "").then(_prefix)

PACKET_FIELDS: dict[str, pl.Expr] = {
    F.SOURCE_IP: address("src"),
    F.DESTINATION_IP: address("dst"),
    F.SOURCE_PORT: port("spt"),
    F.DESTINATION_PORT: port("dpt"),
    F.NETWORK_TRANSPORT: pl.col("proto").str.to_lowercase(),
    F.NETWORK_BYTES: pl.col("len").cast(pl.Int64, strict=False),
    F.RULE_NAME: pl.col("descr"),
    F.OBSERVER_INGRESS_INTERFACE: _interface("in"),
    F.OBSERVER_EGRESS_INTERFACE: _interface("out"),
    F.SOURCE_MAC: _mac(18),
    SF.DESTINATION_MAC: _mac(0),
    SF.KERNEL_UPTIME: pl.col("uptime").cast(pl.Float64, strict=False),
    SF.EVENT_TYPE: pl.when(_prefix.str.contains(_DENIED))
    .then(pl.lit("denied"))
    .when(_prefix.str.contains(_ALLOWED))
    .then(pl.lit("allowed"))
    .otherwise(pl.lit("info")),
}
PACKET_OUTCOME = (
    pl.when(_prefix.str.contains(_DENIED))
    .then(pl.lit("failure"))
    .when(_prefix.str.contains(_ALLOWED))
    .then(pl.lit("success"))
    .otherwise(pl.lit("unknown"))
)

NETFILTER_KIND = MessageKind(
    name="netfilter_packet",
    starts=("",),
    pattern=UPTIME + PACKET,
    action=_action,
    outcome=PACKET_OUTCOME,
    category="network",
    fields=PACKET_FIELDS,
    programs=KERNEL,
    anywhere=(" SRC=", " DST="),
)
