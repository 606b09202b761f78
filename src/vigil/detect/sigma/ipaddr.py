"""CIDR tests as string operations inside polars: no per-row `ipaddress` call.

Every address is rewritten, vectorised, to a canonical key: the family digit and the
address in fixed-width lower-case hex ("4c0000201" for 192.0.2.1, "6" + 32 nibbles for
IPv6). A network is then a set of key prefixes (one when its prefix length is a
multiple of 4, at most 8 otherwise), and all the networks a rule tests on one field
become a single anchored regex alternation over the key. Text that is not an address
gets a null key and matches no network.

The key is built as a straight chain of expressions (each step used once or twice), so
the expression tree stays small however many networks a rule lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network

import polars as pl

_OCTET = r"(\d{1,3})"
_V4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
_V4_TAIL = rf":{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
_H = "[0-9a-f]{1,4}"
# RFC 4291 text forms (after an IPv4 tail has been rewritten as two hex groups).
_V6 = (
    rf"^(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:))$"
)
_HEX_OCTET = {str(i): f"{i:02x}" for i in range(256)}


def _octets_hex(text: pl.Expr, pattern: str) -> pl.Expr:
    """The four dotted-decimal octets `pattern` captures in `text`, as 8 hex digits
    (null unless each is a plain decimal 0-255: the mapping knows no other text)."""
    octets = [pl.field(name).replace_strict(_HEX_OCTET, default=None) for name in "1234"]
    # One regex pass: the struct of groups is read field by field, not re-extracted.
    return (
        text.str.extract_groups(pattern)
        .struct.with_fields(hex=pl.concat_str(octets))
        .struct.field("hex")
    )


def address_key(text: pl.Expr) -> pl.Expr:
    """'4' + 8 hex digits for IPv4, '6' + 32 for IPv6 (zone ids dropped), else null."""
    # Each step is a field of a struct built from the previous one (pl.field), so no
    # intermediate is computed twice; the IPv6 steps see null unless the text has a ':'.
    f = pl.field
    steps: list[dict[str, pl.Expr]] = [
        {"s": text.str.strip_chars().str.to_lowercase()},
        {
            "v4": _octets_hex(f("s"), _V4),
            "s6": pl.when(f("s").str.contains(":", literal=True)).then(f("s")),
        },
        # An embedded IPv4 tail (::ffff:192.0.2.1) is the last two hex groups.
        {
            "tail": pl.when(f("s6").str.contains(".", literal=True)).then(
                _octets_hex(f("s6"), _V4_TAIL)
            )
        },
        {
            "hex": pl.when(f("tail").is_null())
            .then(f("s6").str.replace(r"%.*$", ""))
            .otherwise(
                f("s6").str.replace(_V4_TAIL, ":")
                + f("tail").str.slice(0, 4)
                + pl.lit(":")
                + f("tail").str.slice(4, 4)
            )
        },
        {"missing": pl.lit(8, dtype=pl.Int64) - f("hex").str.count_matches("[0-9a-f]+")},
        {
            "full": f("hex")
            .str.replace(
                "::",
                pl.lit(":")
                + pl.lit("0:").repeat_by(f("missing").clip(lower_bound=0)).list.join(""),
                literal=True,
            )
            .str.strip_chars(":")
        },
        {
            "key": pl.when(f("v4").is_not_null())
            .then(pl.lit("4") + f("v4"))
            .when(f("hex").str.contains(_V6))
            .then(
                pl.lit("6")
                + f("full")
                .str.split(":")
                .list.eval(pl.element().str.pad_start(4, "0"))
                .list.join("")
            )
            .otherwise(pl.lit(None, dtype=pl.String))
        },
    ]
    staged = pl.struct([e.alias(k) for k, e in steps[0].items()])
    for step in steps[1:]:
        staged = staged.struct.with_fields([e.alias(k) for k, e in step.items()])
    key: pl.Expr = staged.struct.field("key")
    return key


def network_prefixes(network: IPv4Network | IPv6Network) -> list[str]:
    """The address-key prefixes that together cover exactly `network`."""
    bits = 32 if isinstance(network, IPv4Network) else 128
    family = "4" if bits == 32 else "6"
    aligned = -(-network.prefixlen // 4) * 4  # round up to a whole nibble
    out = []
    for sub in network.subnets(new_prefix=aligned):
        digits = f"{int(sub.network_address):0{bits // 4}x}"[: aligned // 4]
        out.append(family + digits)
    return out


def networks_regex(networks: Iterable[IPv4Network | IPv6Network]) -> str:
    prefixes = sorted({p for n in networks for p in network_prefixes(n)})
    return "^(?:" + "|".join(prefixes) + ")"


def in_networks(text: pl.Expr, networks: Iterable[IPv4Network | IPv6Network]) -> pl.Expr:
    """True where `text` is an address inside one of `networks` (null where it is none)."""
    # Addresses repeat a lot within a batch: key each distinct text once, then look the
    # keys up (maintain_order keeps the two evaluations of `unique` aligned).
    distinct = text.unique(maintain_order=True).drop_nulls()
    key = text.replace_strict(distinct, address_key(distinct), default=None, return_dtype=pl.String)
    return key.str.contains(networks_regex(networks))
