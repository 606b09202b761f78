"""Ground truth of a generated auth.log, computed from the rows that were written."""

from __future__ import annotations

from typing import Any

import polars as pl

from bench.loggen.common import iso, iso_expr
from bench.loggen.sshd_lines import TEMPLATES
from bench.loggen.windows import peaks

COUNTING = (
    "one attempt per 'Failed password for ...' line; 'message repeated N times: [ Failed "
    "password ...]' counts N; the 'Invalid user', pam_unix, 'PAM N more' and 'Disconnecting' "
    "lines of the same attempt are not counted again"
)


def sshd_truth(
    records: pl.DataFrame,
    ip_table: pl.Series,
    actors: pl.DataFrame,
    max_failures: int,
    window: int,
) -> dict[str, Any]:
    classes = actors.select(pl.col("ip").cast(pl.Int64), "class")
    tried = records.filter(pl.col("attempts") > 0).select(
        pl.col("ip").cast(pl.Int64), "t", "attempts", "user"
    )
    windows = peaks(tried, ["ip"], window, threshold=max_failures, weight="attempts")
    times = (
        tried.select("ip", pl.col("t").repeat_by(pl.col("attempts")))
        .explode("t")
        .group_by("ip", maintain_order=True)
        .agg(iso_expr("t").alias("attempt_times"))
    )
    per_ip = (
        tried.group_by("ip")
        .agg(
            pl.col("attempts").sum(),
            pl.col("user").n_unique().alias("users"),
            pl.col("t").min().alias("first"),
            pl.col("t").max().alias("last"),
        )
        .join(windows, on="ip")
        .join(times, on="ip")
        .join(classes, on="ip", how="left")
        .with_columns(
            pl.col("class").fill_null("benign"),
            (pl.col("peak") >= max_failures).alias("must_ban"),
        )
    )
    per_ip = per_ip.with_columns(
        pl.Series("address", ip_table.gather(per_ip.get_column("ip")))
    ).sort(["class", "address"])
    actor_list = per_ip.select(
        pl.col("address").alias("ip"),
        "class",
        "attempts",
        "users",
        pl.col("peak").alias("max_in_window"),
        "must_ban",
        iso_expr("crossing").alias("first_crossing"),
        iso_expr("first").alias("first"),
        iso_expr("last").alias("last"),
        "attempt_times",
    ).to_dicts()
    scanners = _scanners(records, classes, ip_table)
    line_class = records.join(
        actors.select(pl.col("actor").cast(pl.Int64), "class"),
        left_on=pl.col("actor").cast(pl.Int64),
        right_on="actor",
        how="left",
    ).select(pl.col("class").fill_null("benign"))
    names = list(TEMPLATES)
    by_class = per_ip.group_by("class").agg(
        pl.len().alias("addresses"),
        pl.col("must_ban").sum(),
        pl.col("attempts").sum(),
    )
    return {
        "start": iso(int(records.get_column("t").min())),  # type: ignore[arg-type]
        "end": iso(int(records.get_column("t").max())),  # type: ignore[arg-type]
        "rule": {
            "max_failures": max_failures,
            "window_seconds": window,
            "counting": COUNTING,
            "must_ban": f"an address with >= {max_failures} attempts less than {window} s apart"
            " (first to last)",
        },
        "must_ban": sorted(per_ip.filter(pl.col("must_ban")).get_column("address").to_list()),
        "summary": {
            "attempts": int(tried.get_column("attempts").sum()),
            "addresses_with_failures": per_ip.height,
            "scanners": len(scanners),
            "by_class": {
                row["class"]: {k: row[k] for k in ("addresses", "must_ban", "attempts")}
                for row in by_class.sort("class").to_dicts()
            },
            "lines_by_class": _counts(line_class.get_column("class")),
            "lines_by_template": _counts(
                records.select(pl.col("tmpl").replace_strict(range(len(names)), names)).to_series()
            ),
        },
        "actors": actor_list,
        "scanners": scanners,
    }


def _scanners(
    records: pl.DataFrame, classes: pl.DataFrame, ip_table: pl.Series
) -> list[dict[str, Any]]:
    scan_ips = classes.filter(pl.col("class") == "scanner").get_column("ip")
    rows = records.filter(pl.col("ip").cast(pl.Int64).is_in(scan_ips.implode()))
    grouped = (
        rows.group_by(pl.col("ip").cast(pl.Int64))
        .agg(
            pl.col("conn").n_unique().alias("connections"),
            pl.col("t").min().alias("first"),
            pl.col("t").max().alias("last"),
        )
        .sort("ip")
    )
    grouped = grouped.with_columns(pl.Series("address", ip_table.gather(grouped.get_column("ip"))))
    return (
        grouped.sort("address")
        .select(
            pl.col("address").alias("ip"),
            "connections",
            iso_expr("first").alias("first"),
            iso_expr("last").alias("last"),
        )
        .to_dicts()
    )


def _counts(values: pl.Series) -> dict[str, int]:
    counted = values.value_counts(sort=True, name="n")
    return {str(k): int(v) for k, v in zip(counted[:, 0], counted["n"], strict=True)}
