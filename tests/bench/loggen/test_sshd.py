"""The sshd generator writes what its truth file claims, recounted from the text."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from bench.loggen.sshd import SshdMix, SshdSpec, generate_sshd

MIX = SshdMix(burst=4, burst_v6=2, spray=2, slow=3, near4=3, exact5=3, scanner=3)
HEADER = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) bastion "
    r"(?:sshd|CRON|systemd-logind)\[\d+\]: |^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d bastion sudo: "
)
FAILED = re.compile(
    r"\]: Failed password for (?:invalid user )?\S+ from (?P<ip>\S+) port \d+ ssh2$"
)
REPEATED = re.compile(
    r"\]: message repeated (?P<n>\d+) times: \[ Failed password for (?:invalid user )?\S+ "
    r"from (?P<ip>\S+) port \d+ ssh2\]$"
)


@pytest.fixture(scope="module")
def generated() -> tuple[list[str], dict[str, Any]]:
    g = generate_sshd(SshdSpec(lines=4000, seed=7, lines_per_day=4000, mix=MIX))
    text = "".join(s.str.join("\n").item() + "\n" for s in g.text_chunks())
    return text.splitlines(), g.truth


def _attempts(lines: list[str]) -> dict[str, list[int]]:
    """Attempt times per address, counted the way the truth file says it counts."""
    found: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        ts = int(
            datetime.strptime("2026 " + line[:15], "%Y %b %d %H:%M:%S")
            .replace(tzinfo=UTC)
            .timestamp()
        )
        if m := FAILED.search(line):
            found[m["ip"]].append(ts)
        elif m := REPEATED.search(line):
            found[m["ip"]] += [ts] * int(m["n"])
    return found


def test_every_line_is_an_rfc3164_auth_log_line(
    generated: tuple[list[str], dict[str, Any]],
) -> None:
    """Exactly the requested number of lines, each with a syslog header, in time order."""
    lines, _ = generated
    assert len(lines) == 4000
    assert all(HEADER.match(line) for line in lines)
    stamps = [datetime.strptime("2026 " + line[:15], "%Y %b %d %H:%M:%S") for line in lines]
    assert stamps == sorted(stamps)


def test_truth_attempts_and_bans_match_a_recount(
    generated: tuple[list[str], dict[str, Any]],
) -> None:
    """Attempts per address and the must-ban set equal a brute-force recount of the text."""
    lines, truth = generated
    attempts = _attempts(lines)
    window, limit = truth["rule"]["window_seconds"], truth["rule"]["max_failures"]
    must_ban = {
        ip
        for ip, times in attempts.items()
        if any(sum(1 for s in times if t - window < s <= t) >= limit for t in times)
    }
    assert {a["ip"]: a["attempts"] for a in truth["actors"]} == {
        ip: len(t) for ip, t in attempts.items()
    }
    assert set(truth["must_ban"]) == must_ban


def test_classes_behave_as_documented(generated: tuple[list[str], dict[str, Any]]) -> None:
    """Bursts, sprays and exact-5 actors must be banned; near-4 and slow actors must not."""
    _, truth = generated
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for actor in truth["actors"]:
        by_class[actor["class"]].append(actor)
    planted = {"burst": 4, "burst_v6": 2, "spray": 2, "slow": 3, "near4": 3, "exact5": 3}
    assert {c: len(by_class[c]) for c in planted} == planted
    assert all(a["must_ban"] for c in ("spray", "exact5") for a in by_class[c])
    assert not any(a["must_ban"] for c in ("slow", "near4") for a in by_class[c])
    assert all(a["attempts"] == 5 for a in by_class["exact5"])
    assert all(a["max_in_window"] == 4 for a in by_class["near4"])
    assert all(a["users"] >= 20 for a in by_class["spray"])
    assert all(":" in a["ip"] for a in by_class["burst_v6"])
    assert len(truth["scanners"]) == 3


def test_the_log_holds_every_message_kind_the_brief_names(
    generated: tuple[list[str], dict[str, Any]],
) -> None:
    """Benign logins, cron, sudo and every attack message shape appear in the text."""
    text = "\n".join(generated[0])
    for needle in (
        "Accepted publickey for", "Accepted password for", "session opened for user",
        "session closed for user", "CRON[", "sudo:", "Failed password for invalid user",
        "Invalid user", "pam_unix(sshd:auth): authentication failure", "message repeated",
        "Connection closed by authenticating user",
        "Disconnecting: Too many authentication failures",
        "Did not receive identification string", "from 2001:db8:",
    ):  # fmt: skip
        assert needle in text, needle
