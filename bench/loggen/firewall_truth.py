"""Ground truth of a generated firewall log, computed from the rows that were written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from bench.loggen.common import iso
from bench.loggen.windows import distinct_peaks, peaks


def firewall_truth(
    records: pl.DataFrame,
    ips: pl.Series,
    actors: Sequence[dict[str, Any]],
    flood_threshold: int,
    scan_threshold: int,
    window: int,
) -> dict[str, Any]:
    rows = records.select("t", "src", "dst", "dport")
    ported = rows.filter(pl.col("dport").is_not_null())
    flood = peaks(rows, ["src", "dst"], window, threshold=flood_threshold)
    vertical = distinct_peaks(ported, ["src", "dst"], "dport", window, threshold=scan_threshold)
    horizontal = distinct_peaks(ported, ["src", "dport"], "dst", window, threshold=scan_threshold)
    classes = {a["src"]: a["class"] for a in actors}

    def found(table: pl.DataFrame, keys: Sequence[str], what: str) -> list[dict[str, Any]]:
        # One entry per alerting key: a handful per file.
        out = []
        for row in table.filter(pl.col("crossing").is_not_null()).to_dicts():
            entry: dict[str, Any] = {
                "src": ips[row["src"]],
                "class": classes.get(row["src"], "benign"),
            }
            for key in keys[1:]:
                entry[key] = ips[row[key]] if key in ("src", "dst") else row[key]
            entry[what] = row["peak"]
            entry["first_crossing"] = iso(row["crossing"])
            out.append(entry)
        return sorted(out, key=lambda e: (e["src"], str(e.get("dst", e.get("dport")))))

    spans = (
        records.filter(pl.col("actor").is_not_null())
        .group_by("actor")
        .agg(
            pl.len().alias("connections"),
            pl.col("t").min().alias("first"),
            pl.col("t").max().alias("last"),
        )
    )
    by_actor = {row["actor"]: row for row in spans.to_dicts()}
    sources = [a["src"] for a in actors]
    flood_peak = _lookup(flood, ["src", "dst"], sources)
    vertical_peak = _lookup(vertical, ["src", "dst"], sources)
    horizontal_peak = _lookup(horizontal, ["src", "dport"], sources)
    planted = []
    for actor in actors:
        span = by_actor.get(actor["actor"])
        if span is None:
            continue
        entry: dict[str, Any] = {"src": ips[actor["src"]], "class": actor["class"]}
        if "dst" in actor:
            pair = (actor["src"], actor["dst"])
            entry |= {
                "dst": ips[actor["dst"]],
                "max_per_window": flood_peak.get(pair, 0),
                "max_distinct_ports": vertical_peak.get(pair, 0),
            }
        else:
            entry |= {
                "dport": actor["dport"],
                "max_distinct_hosts": horizontal_peak.get((actor["src"], actor["dport"]), 0),
            }
        entry |= {
            "connections": span["connections"],
            "first": iso(span["first"]),
            "last": iso(span["last"]),
        }
        planted.append(entry)
    return {
        "start": iso(int(records.get_column("t").min())),  # type: ignore[arg-type]
        "end": iso(int(records.get_column("t").max())),  # type: ignore[arg-type]
        "rules": {
            "flood": f">= {flood_threshold} connections from one source to one destination"
            f" less than {window} s apart (first to last)",
            "vertical_scan": f">= {scan_threshold} distinct destination ports for one (source,"
            f" destination) within such a window",
            "horizontal_scan": f">= {scan_threshold} distinct destinations for one (source,"
            f" destination port) within such a window",
            "flood_threshold": flood_threshold,
            "scan_threshold": scan_threshold,
            "window_seconds": window,
        },
        "flood": found(flood, ["src", "dst"], "max_per_window"),
        "vertical_scan": found(vertical, ["src", "dst"], "max_distinct_ports"),
        "horizontal_scan": found(horizontal, ["src", "dport"], "max_distinct_hosts"),
        "summary": {
            "connections_by_class": _class_counts(records, actors),
            "by_action": _counts(
                records.get_column("action").cast(pl.Int64), {0: "ALLOW", 1: "DENY"}
            ),
        },
        "actors": sorted(planted, key=lambda e: (e["class"], e["src"])),
    }


def _lookup(
    table: pl.DataFrame, keys: Sequence[str], sources: Sequence[int]
) -> dict[tuple[int, int], int]:
    """Peak per key, for the keys of the planted actors' sources only."""
    mine = table.filter(pl.col("src").is_in(list(sources)))
    return {(row[keys[0]], row[keys[1]]): row["peak"] for row in mine.to_dicts()}


def _class_counts(records: pl.DataFrame, actors: Sequence[dict[str, Any]]) -> dict[str, int]:
    labels = pl.DataFrame(
        {"actor": [a["actor"] for a in actors], "class": [a["class"] for a in actors]},
        schema={"actor": pl.Int64, "class": pl.String},
    )
    joined = records.select(pl.col("actor").cast(pl.Int64)).join(labels, on="actor", how="left")
    return _counts(joined.get_column("class").fill_null("benign"), None)


def _counts(values: pl.Series, names: dict[int, str] | None) -> dict[str, int]:
    counted = values.value_counts(sort=True, name="n")
    return {
        (names[k] if names else str(k)): int(v)
        for k, v in zip(counted[:, 0], counted["n"], strict=True)
    }
