"""Ground truth of a generated access log, computed from the rows that were written."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

from bench.loggen.common import iso, iso_expr
from bench.loggen.windows import peaks

BURST_STATUSES = (404, 401, 403)


def apache_truth(
    records: pl.DataFrame,
    ip_table: pl.Series,
    actors: pl.DataFrame,
    threshold: int,
    window: int,
) -> dict[str, Any]:
    address = {i: ip_table[i] for i in actors.get_column("ip").to_list()}
    attacks = records.filter(pl.col("actor").is_not_null())
    kinds = (
        attacks.group_by("actor", "kind")
        .agg(
            pl.len().alias("requests"),
            iso_expr("t").min().alias("first"),
            iso_expr("t").max().alias("last"),
        )
        .sort("actor", "kind")
    )
    statuses = attacks.group_by("actor", "status").len().sort("actor", "status")
    per_actor: dict[int, dict[str, Any]] = {}
    for row in actors.to_dicts():
        per_actor[row["actor"]] = {
            "ip": address[row["ip"]],
            "class": row["class"],
            "tool": row["tool"],
            "requests": 0,
            "kinds": {},
            "statuses": {},
        }
    # Loops over attackers (thousands at most) to shape the JSON, not over log lines.
    for row in kinds.to_dicts():
        entry = per_actor[row["actor"]]
        entry["kinds"][row["kind"]] = {k: row[k] for k in ("requests", "first", "last")}
        entry["requests"] += row["requests"]
    for row in statuses.to_dicts():
        per_actor[row["actor"]]["statuses"][str(row["status"])] = row["len"]
    attackers = sorted(
        (a for a in per_actor.values() if a["requests"]), key=lambda a: (a["class"], a["ip"])
    )
    by_kind: dict[str, list[str]] = defaultdict(list)
    for a in attackers:
        for kind in a["kinds"]:
            by_kind[kind].append(a["ip"])
    classes = dict(zip(actors["ip"].to_list(), actors["class"].to_list(), strict=True))
    return {
        "start": iso(int(records.get_column("t").min())),  # type: ignore[arg-type]
        "end": iso(int(records.get_column("t").max())),  # type: ignore[arg-type]
        "rule": {
            "bursts": f"an address whose responses of one status (404, 401 or 403) number >= "
            f"{threshold} less than {window} s apart (first to last)",
            "threshold": threshold,
            "window_seconds": window,
        },
        "by_kind": {k: sorted(v) for k, v in sorted(by_kind.items())},
        "scanner_user_agents": sorted(a["ip"] for a in attackers if a["tool"]),
        "bursts": {
            str(code): _bursts(records, code, ip_table, classes, threshold, window)
            for code in BURST_STATUSES
        },
        "summary": {
            "attackers": len(attackers),
            "requests_by_kind": _counts(records.get_column("kind")),
            "requests_by_status": _counts(records.get_column("status").cast(pl.String)),
        },
        "attackers": attackers,
    }


def _bursts(
    records: pl.DataFrame,
    code: int,
    ip_table: pl.Series,
    classes: dict[int, str],
    threshold: int,
    window: int,
) -> list[dict[str, Any]]:
    hits = records.filter(pl.col("status") == code).select(pl.col("ip").cast(pl.Int64), "t")
    found = peaks(hits, ["ip"], window, threshold=threshold).filter(
        pl.col("crossing").is_not_null()
    )
    return sorted(
        (
            {
                "ip": ip_table[row["ip"]],
                "class": classes.get(row["ip"], "benign"),
                "max_in_window": row["peak"],
                "first_crossing": iso(row["crossing"]),
            }
            for row in found.to_dicts()
        ),
        key=lambda r: r["ip"],
    )


def _counts(values: pl.Series) -> dict[str, int]:
    counted = values.value_counts(sort=True, name="n")
    return {str(k): int(v) for k, v in zip(counted[:, 0], counted["n"], strict=True)}
