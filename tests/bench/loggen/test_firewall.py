"""The firewall generator writes what its truth file claims, recounted from the text, and
vigil's firewall parser reads every line."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from bench.loggen.firewall import FirewallMix, FirewallSpec, generate_firewall

from vigil.parsers.base import ParseContext
from vigil.parsers.firewall import FirewallParser
from vigil.pipeline.chunks import parse_lines

Row = tuple[int, str, str, str, str, str, str]


@pytest.fixture(scope="module")
def generated() -> tuple[list[str], dict[str, Any]]:
    spec = FirewallSpec(lines=5000, seed=5, lines_per_day=5000, mix=FirewallMix(2, 3, 1, 1))
    g = generate_firewall(spec)
    return "".join(s.str.join("\n").item() + "\n" for s in g.text_chunks()).splitlines(), g.truth


def _rows(lines: list[str]) -> list[Row]:
    out = []
    for line in lines:
        ts, src, dst, proto, action, sport, dport = line.split(" | ")
        t = int(datetime.strptime(ts, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())
        out.append((t, src, dst, proto, action, sport, dport))
    return out


def _peak(events: list[tuple[int, str]], window: int, distinct: bool) -> int:
    best = 0
    for t, _ in events:
        inside = [v for s, v in events if t - window < s <= t]
        best = max(best, len(set(inside)) if distinct else len(inside))
    return best


def test_vigil_parses_every_line(generated: tuple[list[str], dict[str, Any]]) -> None:
    """The seed-format parser turns every generated line into an event, none rejected."""
    lines, _ = generated
    frame = pl.DataFrame(
        {
            "line": lines,
            "log.file.line": pl.int_range(1, len(lines) + 1, dtype=pl.UInt64, eager=True),
        }
    )
    result = parse_lines(FirewallParser(ParseContext(origin="fw.log")), frame)
    assert result.rejects.height == 0
    assert result.events.height == 5000


def test_rule_hits_match_a_recount(generated: tuple[list[str], dict[str, Any]]) -> None:
    """Flood, vertical and horizontal scan hits equal a brute-force recount of the text."""
    lines, truth = generated
    rules = truth["rules"]
    window = rules["window_seconds"]
    pairs: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    sweeps: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for t, src, dst, _, _, _, dport in _rows(lines):
        pairs[src, dst].append((t, dport))
        if dport != "-":
            sweeps[src, dport].append((t, dst))
    flood = {k for k, ev in pairs.items() if _peak(ev, window, False) >= rules["flood_threshold"]}
    vertical = {
        k for k, ev in pairs.items()
        if len({p for _, p in ev if p != "-"}) >= rules["scan_threshold"]
        and _peak([e for e in ev if e[1] != "-"], window, True) >= rules["scan_threshold"]
    }  # fmt: skip
    horizontal = {
        k for k, ev in sweeps.items()
        if len({d for _, d in ev}) >= rules["scan_threshold"]
        and _peak(ev, window, True) >= rules["scan_threshold"]
    }  # fmt: skip
    assert {(e["src"], e["dst"]) for e in truth["flood"]} == flood
    assert {(e["src"], e["dst"]) for e in truth["vertical_scan"]} == vertical
    assert {(e["src"], str(e["dport"])) for e in truth["horizontal_scan"]} == horizontal


def test_planted_actors_are_where_the_docstring_puts_them(
    generated: tuple[list[str], dict[str, Any]],
) -> None:
    """Two floods above the threshold, three sources just under it, one scan of each kind."""
    _, truth = generated
    limit = truth["rules"]["flood_threshold"]
    actors = truth["actors"]
    floods = [a for a in actors if a["class"] == "flood"]
    near = [a for a in actors if a["class"] == "near_flood"]
    assert len(floods) == 2
    assert all(a["max_per_window"] >= limit for a in floods)
    assert len(near) == 3
    assert all(limit - 10 <= a["max_per_window"] < limit for a in near)
    assert [e["class"] for e in truth["flood"]] == ["flood", "flood"]
    assert [e["class"] for e in truth["vertical_scan"]] == ["vertical"]
    assert [e["class"] for e in truth["horizontal_scan"]] == ["horizontal"]
