"""pf packet logs of pfSense and OPNsense (`filterlog`), as a message kind.

    Sep 30 14:35:50 fw filterlog[92653]: 53,,,1000102631,em0,match,block,in,4,0x0,,64,892,
        0,none,6,tcp,44,192.0.2.2,198.51.100.15,59576,22,0,S,17536001,,65535,,mss

The message is one CSV record (pfSense's "raw filter log format", which OPNsense
shares), its fields in this order:

- every record: rule number, sub-rule number, anchor, tracker (the rule's id), real
  interface, reason (`match`, ...), action (`pass`, `block`, `reject`), direction (`in`,
  `out`), IP version (4 or 6);
- IPv4: TOS, ECN, TTL, id, fragment offset, flags, protocol id, protocol name, length,
  source address, destination address;
- IPv6: class, flow label, hop limit, protocol name, protocol id, length, source
  address, destination address;
- then TCP: source port, destination port, data length, TCP flags, sequence number,
  ack number, window, urgent pointer, options; UDP: source port, destination port, data
  length; ICMP and the rest: fields of their own (no ports).

`event.action` is the action as pf writes it, `event.outcome` success for pass and
failure for block or reject (`event.type` allowed or denied, as for kernel packet
logs). The interface is `observer.ingress.interface.name` for `in`, the egress one
for `out`; `network.bytes` is the IP length, `event.reason` pf's reason. A record
whose layout does not match (another version, a truncated line) keeps its syslog
fields only.
"""

from __future__ import annotations

import polars as pl

from vigil.parsers.base import outcome_of_action
from vigil.parsers.message_kinds import MessageKind, address, port
from vigil.parsers.syslog_fields import SF
from vigil.schema.fields import F

_C = "[^,]*,"  # a field that is passed over
_HEAD = rf"{_C}{_C}{_C}{_C}(?P<iface>[^,]*),(?P<reason>[^,]*),(?P<action>[^,]*),(?P<dir>[^,]*),"
_IPV4 = (
    rf"4,{_C}{_C}{_C}{_C}{_C}{_C}{_C}(?P<proto4>[^,]*),(?P<len4>[0-9]*),"
    r"(?P<src4>[^,]*),(?P<dst4>[^,]*)"
)
_IPV6 = rf"6,{_C}{_C}{_C}(?P<proto6>[^,]*),{_C}(?P<len6>[0-9]*),(?P<src6>[^,]*),(?P<dst6>[^,]*)"
PF_RECORD = _HEAD + f"(?:{_IPV4}|{_IPV6})" + r"(?:,(?P<spt>[0-9]+),(?P<dpt>[0-9]+))?"

_transport = pl.coalesce("proto4", "proto6").str.to_lowercase()
_has_ports = _transport.is_in(["tcp", "udp"])
_action = pl.col("action").str.to_lowercase()
_outcome = outcome_of_action(_action)


def _interface(direction: str) -> pl.Expr:
    return pl.when((pl.col("dir") == direction) & (pl.col("iface") != "")).then(pl.col("iface"))


PF_KIND = MessageKind(
    name="pf_filterlog",
    starts=("",),
    pattern=PF_RECORD,
    action=pl.when(_action != "").then(_action),
    outcome=_outcome,
    category="network",
    fields={
        F.SOURCE_IP: pl.coalesce(address("src4"), address("src6")),
        F.DESTINATION_IP: pl.coalesce(address("dst4"), address("dst6")),
        F.SOURCE_PORT: pl.when(_has_ports).then(port("spt")),
        F.DESTINATION_PORT: pl.when(_has_ports).then(port("dpt")),
        F.NETWORK_TRANSPORT: _transport,
        F.NETWORK_BYTES: pl.coalesce("len4", "len6").cast(pl.Int64, strict=False),
        F.OBSERVER_INGRESS_INTERFACE: _interface("in"),
        F.OBSERVER_EGRESS_INTERFACE: _interface("out"),
        F.EVENT_REASON: pl.when(pl.col("reason") != "").then(pl.col("reason")),
        SF.EVENT_TYPE: pl.when(_outcome == "success")
        .then(pl.lit("allowed"))
        .when(_outcome == "failure")
        .then(pl.lit("denied"))
        .otherwise(pl.lit("info")),
    },
    programs=frozenset({"filterlog"}),
)
