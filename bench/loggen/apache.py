"""Apache combined access log with planted web attackers and exact ground truth.

Benign traffic: browsing sessions from RFC 1918 clients (pages, then their assets, with
referers), a few 404s from dead links, search-engine bots and health checks. Attacker
classes, one address each (documentation ranges, some 2001:db8::/32):

| class     | row kind   | what it sends                                                  |
|-----------|------------|----------------------------------------------------------------|
| scanner   | scanner    | a tool user agent (Nikto, Nuclei, ...) probing known paths     |
| sqlmap    | sqli       | sqlmap's user agent with SQL injection payloads                |
| sqli      | sqli       | SQL injection by hand (browser or curl user agent)             |
| xss       | xss        | script/event-handler payloads in parameters                    |
| traversal | traversal  | ../ and encoded variants towards /etc/passwd and win.ini       |
| cmdi      | cmdi       | ;cmd, |cmd, $(cmd), backticks, wget|sh droppers               |
| log4shell | log4shell  | ${jndi:...} in the URL or the user agent, some obfuscated      |
| burst404  | 404_burst  | content discovery with a browser agent: mostly 404, fast       |
| burst401  | 401_burst  | basic-auth guessing: 401s with a user name                     |
| burst403  | 403_burst  | repeated requests for forbidden files                          |

The truth file lists each attacker address with its class, tool and per-kind request counts,
the addresses per kind, and, computed over *all* rows, the addresses whose 404, 401 or 403
responses reach `burst_threshold` within `burst_window` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from bench.loggen import GENERATOR_VERSION
from bench.loggen import apache_lines as V
from bench.loggen.apache_truth import apache_truth
from bench.loggen.common import (
    DEFAULT_START,
    AttackerPool,
    Generated,
    finish,
    pick,
    place,
    private_v4,
    render_templates,
    rng_for,
    scale_mix,
    stack,
    timelines,
    uniform_ints,
)


@dataclass(frozen=True)
class ApacheMix:
    """Attackers per class (defaults: per million lines)."""

    scanner: int = 60
    sqlmap: int = 20
    sqli: int = 100
    xss: int = 100
    traversal: int = 100
    cmdi: int = 100
    log4shell: int = 200
    burst404: int = 60
    burst401: int = 40
    burst403: int = 40

    def scaled(self, lines: int) -> ApacheMix:
        return scale_mix(self, lines)


@dataclass(frozen=True)
class ApacheSpec:
    lines: int
    seed: int = 1
    start: datetime = DEFAULT_START
    lines_per_day: int = 200_000
    mix: ApacheMix | None = None
    # Share of each class's attackers that come from IPv6 (at least one when the class has 3+).
    ipv6_share: float = 0.1
    burst_threshold: int = 50
    burst_window: int = 60


# class -> (row kind, requests lo/hi, gap lo/hi, statuses and their weights)
CLASSES: dict[str, tuple[str, int, int, int, int, dict[int, float]]] = {
    "scanner": ("scanner", 100, 600, 0, 2, {404: 85, 403: 7, 200: 5, 301: 3}),
    "sqlmap": ("sqli", 50, 300, 0, 3, {200: 70, 500: 20, 403: 10}),
    "sqli": ("sqli", 10, 60, 2, 30, {200: 70, 500: 20, 403: 10}),
    "xss": ("xss", 5, 40, 2, 30, {200: 80, 400: 10, 403: 10}),
    "traversal": ("traversal", 5, 50, 1, 20, {404: 40, 400: 30, 403: 20, 200: 10}),
    "cmdi": ("cmdi", 5, 30, 2, 40, {404: 50, 400: 20, 403: 20, 200: 10}),
    "log4shell": ("log4shell", 1, 6, 1, 120, {200: 40, 404: 40, 400: 20}),
    "burst404": ("404_burst", 150, 400, 0, 1, {404: 95, 200: 5}),
    "burst401": ("401_burst", 60, 200, 0, 1, {401: 99, 200: 1}),
    "burst403": ("403_burst", 60, 150, 0, 1, {403: 100}),
}
_ORDER = ("conn", "seq")
# Two health-check probes, then one address per search-engine bot; browsers come after.
FIXED_CLIENTS = ("10.0.0.2", "10.0.0.3", "172.16.5.10", "172.16.5.11")


def generate_apache(spec: ApacheSpec) -> Generated:
    mix = spec.mix or ApacheMix().scaled(spec.lines)
    t_start = int(spec.start.timestamp())
    span = max(3600, round(spec.lines / spec.lines_per_day * 86400))
    pool = AttackerPool(rng_for(spec.seed, "apache/pool"))
    ips: list[pl.Series] = []
    parts: list[pl.DataFrame] = []
    actor_rows: list[dict[str, Any]] = []
    n_ips = 0
    for cls in CLASSES:
        n = getattr(mix, cls)
        n6 = min(n, max(1 if n >= 3 else 0, round(n * spec.ipv6_share)))
        ips += [pool.take_v4(n - n6), pool.take_v6(n6)]
        rng = rng_for(spec.seed, f"apache/{cls}")
        part, tools = _attackers(cls, rng, n, n_ips, len(actor_rows), t_start, span)
        parts.append(part)
        actor_rows += [
            {"actor": len(actor_rows) + i, "ip": n_ips + i, "class": cls, "tool": tools[i]}
            for i in range(n)
        ]
        n_ips += n
    attack_lines = sum(p.height for p in parts)
    round_no = 0
    while sum(p.height for p in parts) < spec.lines or round_no == 0:
        round_no += 1
        need = max(spec.lines - attack_lines, 0) + spec.lines // 50 + 40
        if round_no > 1:
            need = spec.lines - sum(p.height for p in parts) + 40
        rng = rng_for(spec.seed, f"apache/background/{round_no}")
        clients = pl.concat([pl.Series(FIXED_CLIENTS), private_v4(rng, max(20, need // 60))])
        ips.append(clients)
        parts += _background(rng, need, n_ips, len(clients), t_start, span, round_no)
        n_ips += len(clients)
    records = finish(stack(parts), spec.lines, _ORDER)
    ip_table = pl.concat(ips)
    actors = pl.DataFrame(
        actor_rows,
        schema={"actor": pl.Int64, "ip": pl.Int64, "class": pl.String, "tool": pl.String},
    )
    truth = {
        "format": "apache",
        "generator": f"bench/loggen/apache.py v{GENERATOR_VERSION}",
        "seed": spec.seed,
        "lines": spec.lines,
        "timezone": "UTC",
        "mix": {f.name: getattr(mix, f.name) for f in fields(mix)},
        **apache_truth(records, ip_table, actors, spec.burst_threshold, spec.burst_window),
    }

    def render(chunk: pl.DataFrame) -> pl.Series:
        ts = pl.from_epoch(pl.col("t"), time_unit="s").dt.strftime("%d/%b/%Y:%H:%M:%S +0000")
        size = (
            pl.when(pl.col("size") == 0).then(pl.lit("-")).otherwise(pl.col("size").cast(pl.String))
        )
        return render_templates(
            chunk.with_columns(ts.alias("ts"), size.alias("size"), pl.lit(0).alias("tmpl")),
            [V.TEMPLATE],
        )

    return Generated("apache", records, {"ip": ip_table}, render, truth)


def _attackers(
    cls: str, rng: np.random.Generator, n: int, first_ip: int, first_actor: int, t0: int, span: int
) -> tuple[pl.DataFrame, list[str | None]]:
    kind, lo, hi, gap_lo, gap_hi, statuses = CLASSES[cls]
    counts = uniform_ints(rng, lo, hi, n)
    gaps = uniform_ints(rng, gap_lo, gap_hi, int(counts.sum()))
    owner, position, t = place(rng, t0, span, counts, gaps)
    total = len(owner)
    tools: list[str | None] = [None] * n
    ua = V.choose(rng, (*V.BROWSERS, *V.CLI_AGENTS), n)
    method = np.full(total, "GET", dtype=object)
    user = np.full(total, "-", dtype=object)
    if cls == "scanner":
        names = list(V.SCANNER_TOOLS)
        tool_idx = rng.integers(0, len(names), size=n)
        picked = [names[i] for i in tool_idx]
        tools = list(picked)
        ua = pl.Series([V.SCANNER_TOOLS[x] for x in picked], dtype=pl.String)
        url = V.probe_urls(rng, total)
        method = np.where(rng.random(total) < 0.1, "HEAD", "GET").astype(object)
    elif cls == "sqlmap":
        tools = ["sqlmap"] * n
        ua = pl.Series([V.SQLMAP] * n, dtype=pl.String)
        url = V.payload_urls(rng, V.SQLI_TARGETS, V.SQLI, total)
    elif cls == "sqli":
        url = V.payload_urls(rng, V.SQLI_TARGETS, V.SQLI, total)
    elif cls == "xss":
        url = V.payload_urls(rng, V.XSS_TARGETS, V.XSS, total)
    elif cls == "traversal":
        url = V.choose(rng, V.TRAVERSAL, total)
    elif cls == "cmdi":
        url = V.choose(rng, V.CMDI, total)
    elif cls == "log4shell":
        in_agent = rng.random(n) < 0.5
        ua = pl.Series(
            np.where(in_agent, V.choose(rng, V.LOG4SHELL_AGENTS, n).to_numpy(), ua.to_numpy()),
            dtype=pl.String,
        )
        url = pl.Series(
            np.where(in_agent[owner], "/", V.choose(rng, V.LOG4SHELL_URLS, total).to_numpy()),
            dtype=pl.String,
        )
    elif cls == "burst404":
        url = V.probe_urls(rng, total, words_only=True)
    elif cls == "burst401":
        url = V.choose(rng, V.AUTH_PATHS, n).gather(owner)
        user = V.choose(rng, V.AUTH_USERS, total).to_numpy()
    else:
        url = V.choose(rng, V.FORBIDDEN, total)
    codes = list(statuses)
    status = np.array(codes)[pick(rng, codes, total, p=list(statuses.values()))]
    frame = pl.DataFrame(
        {
            "t": t,
            "conn": first_actor + owner,
            "seq": position,
            "actor": first_actor + owner,
            "ip": first_ip + owner,
            "user": pl.Series(user, dtype=pl.String),
            "method": pl.Series(method, dtype=pl.String),
            "url": url,
            "status": status,
            "size": V.sizes(rng, status),
            "referer": pl.Series(["-"] * total, dtype=pl.String),
            "ua": ua.gather(owner),
            "kind": pl.Series([kind] * total, dtype=pl.String),
        }
    )
    if cls == "scanner" and "nikto" in tools:
        nikto = pl.Series([x == "nikto" for x in tools]).gather(owner)
        before, after = V.SCANNER_TOOLS["nikto"].split("{n}")
        numbered = pl.concat_str(
            [pl.lit(before), (pl.col("seq") + 1).cast(pl.String).str.zfill(6), pl.lit(after)]
        )
        frame = frame.with_columns(
            pl.when(nikto).then(numbered).otherwise(pl.col("ua")).alias("ua")
        )
    return frame, tools


def _background(
    rng: np.random.Generator,
    lines: int,
    first_ip: int,
    n_clients: int,
    t0: int,
    span: int,
    round_no: int,
) -> list[pl.DataFrame]:
    """Browsing sessions (~15 rows each: pages and their assets), health checks, bots."""
    conn0 = 10_000_000 * round_no
    n_sessions = max(1, int(lines * 0.85 / 15))
    counts = 1 + rng.geometric(0.2, size=n_sessions).clip(max=30) - 1
    starts = t0 + (rng.random(n_sessions) * span).astype(np.int64)
    owner, position, t = timelines(starts, counts, uniform_ints(rng, 3, 90, int(counts.sum())))
    pages = len(owner)
    which = pick(rng, range(3), pages, p=[85, 12, 3])
    choices = pl.DataFrame(
        {
            "which": which,
            "page": V.choose(rng, V.PAGES, pages, p=V.PAGE_WEIGHTS),
            "param": V.choose(rng, V.PARAM_PAGES, pages),
            "number": rng.integers(1, 500, size=pages),
            "word": V.choose(rng, V.SEARCH_WORDS, pages),
            "numeric": rng.random(pages) < 0.5,
            "dead": V.choose(rng, V.DEAD_LINKS, pages),
        }
    )
    parametrised = (
        pl.when("numeric")
        .then(pl.concat_str([pl.col("param"), pl.col("number").cast(pl.String)]))
        .otherwise(pl.concat_str([pl.lit("/search?q="), pl.col("word")]))
    )
    url = choices.select(
        pl.when(pl.col("which") == 0)
        .then(pl.col("page"))
        .when(pl.col("which") == 1)
        .then(parametrised)
        .otherwise(pl.col("dead"))
    ).to_series()
    status = np.where(which == 2, 404, np.where(rng.random(pages) < 0.05, 304, 200))
    session_ua = V.choose(rng, V.BROWSERS, n_sessions, p=[30, 20, 10, 10, 15, 10, 5])
    session_ip = first_ip + rng.integers(len(FIXED_CLIENTS), n_clients, size=n_sessions)
    page_frame = pl.DataFrame(
        {
            "t": t,
            "conn": conn0 + owner,
            "seq": position * 10,
            "ip": session_ip[owner],
            "url": url,
            "status": status,
            "ua": session_ua.gather(owner),
        }
    ).with_columns(
        pl.when(pl.col("seq") == 0)
        .then(pl.lit(V.choose(rng, V.REFERERS, pages)))
        .otherwise(pl.lit(V.SITE) + pl.col("url").shift(1).over("conn"))
        .alias("referer")
    )
    per_page = rng.integers(0, 5, size=pages)
    src = np.repeat(np.arange(pages), per_page)
    n_assets = len(src)
    asset_status = np.where(rng.random(n_assets) < 0.3, 304, 200)
    assets = page_frame[src].with_columns(
        pl.col("t") + pl.Series(rng.integers(0, 2, size=n_assets)),
        pl.col("seq")
        + 1
        + pl.Series(np.arange(n_assets) - np.repeat(np.cumsum(per_page) - per_page, per_page)),
        (pl.lit(V.SITE) + pl.col("url")).alias("referer"),
        V.choose(rng, V.ASSETS, n_assets).alias("url"),
        pl.Series("status", asset_status),
    )
    n_probe = max(1, int(lines * 0.1))
    n_bot = max(1, int(lines * 0.05))
    bot = rng.integers(0, len(V.BOTS), size=n_bot)
    health = pl.DataFrame(
        {
            "t": t0 + np.sort((rng.random(n_probe) * span).astype(np.int64)),
            "conn": conn0 + 5_000_000 + np.arange(n_probe),
            "seq": np.zeros(n_probe, dtype=np.int64),
            "ip": first_ip + rng.integers(0, 2, size=n_probe),
            "url": pl.Series(["/healthz"] * n_probe),
            "status": np.full(n_probe, 200),
            "ua": pl.Series([V.HEALTH_UA] * n_probe),
            "referer": pl.Series(["-"] * n_probe),
        }
    )
    bots = pl.DataFrame(
        {
            "t": t0 + (rng.random(n_bot) * span).astype(np.int64),
            "conn": conn0 + 7_000_000 + np.arange(n_bot),
            "seq": np.zeros(n_bot, dtype=np.int64),
            "ip": first_ip + 2 + bot,
            "url": V.choose(rng, V.PAGES, n_bot),
            "status": np.full(n_bot, 200),
            "ua": pl.Series(V.BOTS).gather(bot),
            "referer": pl.Series(["-"] * n_bot),
        }
    )
    out = []
    for frame in (page_frame, assets, health, bots):
        size = V.sizes(rng, frame.get_column("status").to_numpy())
        out.append(
            frame.with_columns(
                pl.lit("-").alias("user"),
                pl.lit("GET").alias("method"),
                pl.Series("size", np.full(len(size), 2) if frame is health else size),
                pl.lit("benign").alias("kind"),
            )
        )
    return out
