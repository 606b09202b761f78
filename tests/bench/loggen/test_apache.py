"""The Apache generator writes what its truth file claims, recounted from the text."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest
from bench.loggen.apache import CLASSES, ApacheMix, ApacheSpec, generate_apache
from bench.loggen.apache_lines import SCANNER_TOOLS, SQLMAP

COMBINED = re.compile(
    r"^(?P<ip>\S+) - (?P<user>\S+) \[(?P<ts>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "
    r'"(?P<method>GET|HEAD) (?P<url>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$'
)
MIX = ApacheMix(
    scanner=2,
    sqlmap=1,
    sqli=2,
    xss=2,
    traversal=2,
    cmdi=2,
    log4shell=3,
    burst404=1,
    burst401=1,
    burst403=1,
)


@pytest.fixture(scope="module")
def generated() -> tuple[list[re.Match[str]], dict[str, Any]]:
    g = generate_apache(ApacheSpec(lines=6000, seed=3, lines_per_day=6000, mix=MIX, ipv6_share=0.5))
    lines = "".join(s.str.join("\n").item() + "\n" for s in g.text_chunks()).splitlines()
    matches = [COMBINED.match(line) for line in lines]
    assert len(lines) == 6000
    assert all(matches), next(line for line, m in zip(lines, matches, strict=True) if m is None)
    return [m for m in matches if m], g.truth


def _epoch(ts: str) -> int:
    return int(datetime.strptime(ts, "%d/%b/%Y:%H:%M:%S %z").timestamp())


def test_every_line_is_combined_format_in_time_order(
    generated: tuple[list[re.Match[str]], dict[str, Any]],
) -> None:
    """Each line parses as Apache combined (checked in the fixture) and time never goes back."""
    stamps = [_epoch(m["ts"]) for m in generated[0]]
    assert stamps == sorted(stamps)


def test_attacker_request_counts_match_the_text(
    generated: tuple[list[re.Match[str]], dict[str, Any]],
) -> None:
    """Each attacker's request count and status counts equal a recount by address."""
    matches, truth = generated
    per_ip = Counter(m["ip"] for m in matches)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for m in matches:
        statuses[m["ip"]][m["status"]] += 1
    for attacker in truth["attackers"]:
        assert attacker["requests"] == per_ip[attacker["ip"]]
        assert attacker["statuses"] == dict(statuses[attacker["ip"]])


def test_every_attack_kind_is_present_and_recognisable(
    generated: tuple[list[re.Match[str]], dict[str, Any]],
) -> None:
    """Every row kind has attackers, and their requests carry the kind's marks."""
    matches, truth = generated
    assert set(truth["by_kind"]) == {kind for kind, *_ in CLASSES.values()}
    rows: dict[str, list[re.Match[str]]] = defaultdict(list)
    for m in matches:
        rows[m["ip"]].append(m)
    marks = {
        "sqli": re.compile(r"(?i)union|sleep|'|%27|order%20by|--"),
        "xss": re.compile(r"(?i)script|onerror|onload|javascript:"),
        "traversal": re.compile(r"\.\./|%2e|%2f|%5c|%25|/etc/passwd"),
        "cmdi": re.compile(r";|\||\$\(|%60|%7C"),
        "log4shell": re.compile(r"jndi|\$\{"),
    }
    for kind, pattern in marks.items():
        for ip in truth["by_kind"][kind]:
            assert all(pattern.search(m["url"] + m["ua"]) for m in rows[ip]), (kind, ip)
    tools = (*(ua.split("{")[0] for ua in SCANNER_TOOLS.values()), SQLMAP)
    for ip in truth["scanner_user_agents"]:
        assert all(m["ua"].startswith(tools) for m in rows[ip])
    assert any(":" in ip for ip in truth["by_kind"]["log4shell"])


def test_bursts_match_a_recount(generated: tuple[list[re.Match[str]], dict[str, Any]]) -> None:
    """Addresses whose 404/401/403 responses reach the threshold within the window, recounted."""
    matches, truth = generated
    window, limit = truth["rule"]["window_seconds"], truth["rule"]["threshold"]
    for code in ("404", "401", "403"):
        times: dict[str, list[int]] = defaultdict(list)
        for m in matches:
            if m["status"] == code:
                times[m["ip"]].append(_epoch(m["ts"]))
        want = {
            ip
            for ip, ts in times.items()
            if any(sum(1 for s in ts if t - window < s <= t) >= limit for t in ts)
        }
        assert {b["ip"] for b in truth["bursts"][code]} == want
        assert want, code
