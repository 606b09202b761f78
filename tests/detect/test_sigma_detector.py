"""The per-batch Sigma detector: alerts per rule and entity, and matching rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.detect.sigma_util import compiled
from vigil.clock import FixedClock
from vigil.detect.sigma.compiler import CompiledRule, compile_rules
from vigil.detect.sigma.detector import RULE_INDEX, SigmaDetector, silent_references
from vigil.detect.sigma.loader import load_rules
from vigil.schema.batch import conform

RULES = Path(__file__).parents[1] / "data" / "rules" / "good"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SCANNER = "3a1f6a2e-7a0b-4c59-9a55-2f2f3c9e0b01"
SSH_ROOT = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TELNET = "0f9e8d7c-6b5a-4948-8372-615049382716"


def _rules() -> list[CompiledRule]:
    rules, unsupported = compile_rules(load_rules([RULES]).rules)
    assert unsupported == []
    return rules


def _batch(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A conformed Batch; each row gets a time 1 s after the previous and a line number."""
    full = [
        {"@timestamp": T0 + timedelta(seconds=i), "log.file.path": "t.log", "log.file.line": i + 1}
        | row
        for i, row in enumerate(rows)
    ]
    return conform(pl.DataFrame(full, infer_schema_length=None))


def _web(ip: str | None, agent: str, **more: Any) -> dict[str, Any]:
    return {
        "event.dataset": "apache",
        "source.ip": ip,
        "user_agent.original": agent,
        "message": f"GET / {agent}",
        **more,
    }


def test_one_alert_per_rule_and_entity() -> None:
    """Matches of one rule are grouped by source: one alert per source, with counts."""
    batch = _batch(
        [
            _web("203.0.113.7", "sqlmap/1.7"),
            _web("203.0.113.7", "Mozilla/5.0"),
            _web("203.0.113.7", "Nikto/2.5"),
            _web("198.51.100.4", "sqlmap/1.7"),
        ]
    )
    alerts = SigmaDetector(_rules()).process(batch)
    assert [(a.rule_id, a.entity, a.count) for a in alerts] == [
        (SCANNER, {"source.ip": "203.0.113.7"}, 2),
        (SCANNER, {"source.ip": "198.51.100.4"}, 1),
    ]
    first = alerts[0]
    assert (first.first_seen, first.last_seen) == (T0, T0 + timedelta(seconds=2))
    assert [(e.path, e.line) for e in first.evidence] == [("t.log", 1), ("t.log", 3)]
    assert first.evidence[0].message == "GET / sqlmap/1.7"
    assert (first.title, first.level, first.rule_name) == (
        "Web scanner user agent",
        "medium",
        "web_scanner_useragent",
    )


def test_alert_carries_rule_author() -> None:
    """Alerts keep the rule's author (the DRL licence of SigmaHQ rules requires it)."""
    (alert,) = SigmaDetector(_rules()).process(_batch([_web("203.0.113.7", "sqlmap/1")]))
    assert alert.tags == ("attack.reconnaissance",)
    assert alert.author == "vigil tests"
    assert alert.to_json()["author"] == "vigil tests"


def test_count_sums_event_count() -> None:
    """A row standing for N repeated events counts N."""
    batch = _batch(
        [_web("203.0.113.7", "sqlmap/1", **{"event.count": 5}), _web("203.0.113.7", "sqlmap/1")]
    )
    (alert,) = SigmaDetector(_rules()).process(batch)
    assert alert.count == 6


def test_evidence_is_capped_and_in_time_order() -> None:
    """At most max_evidence events are kept, the earliest first."""
    rows = [_web("203.0.113.7", "sqlmap/1") for _ in range(8)]
    batch = _batch(rows).sort("@timestamp", descending=True)
    (alert,) = SigmaDetector(_rules(), max_evidence=3).process(batch)
    assert (alert.count, [e.line for e in alert.evidence]) == (8, [1, 2, 3])


def test_default_entity_falls_back_per_event() -> None:
    """Without source.ip the entity is user.name, then host.name, else empty."""
    batch = _batch(
        [
            _web(None, "sqlmap/1", **{"user.name": "alice"}),
            _web(None, "sqlmap/1", **{"host.name": "web1"}),
            _web(None, "sqlmap/1"),
        ]
    )
    alerts = SigmaDetector(_rules()).process(batch)
    assert sorted(str(a.entity) for a in alerts) == [
        "{'host.name': 'web1'}",
        "{'user.name': 'alice'}",
        "{}",
    ]


def test_entity_option_groups_by_named_fields() -> None:
    """`vigil: {entity: [...]}` groups by those fields (absent ones are None)."""
    ssh = {
        "event.dataset": "sshd",
        "process.name": "sshd",
        "event.action": "ssh_login",
        "event.outcome": "failure",
        "user.name": "root",
    }
    batch = _batch([ssh | {"source.ip": "203.0.113.7"}, ssh | {"source.ip": "203.0.113.7"}, ssh])
    alerts = SigmaDetector(_rules()).process(batch)
    assert sorted((str(a.entity), a.count) for a in alerts) == [
        ("{'source.ip': '203.0.113.7', 'user.name': 'root'}", 2),
        ("{'source.ip': None, 'user.name': 'root'}", 1),
    ]


def test_rules_see_only_their_logsource() -> None:
    """A web rule ignores a firewall row even when its fields would match."""
    batch = _batch(
        [
            {
                "event.dataset": "firewall",
                "user_agent.original": "sqlmap/1",
                "source.ip": "192.0.2.1",
            },
            {
                "event.dataset": "firewall",
                "destination.port": 23,
                "event.action": "accept",
                "source.ip": "192.0.2.1",
            },
        ]
    )
    alerts = SigmaDetector(_rules()).process(batch)
    assert [a.rule_id for a in alerts] == [TELNET]


def test_matches_returns_rows_per_rule_key() -> None:
    """matches() gives, per rule key, the matching rows with all batch columns."""
    batch = _batch(
        [
            _web("203.0.113.7", "sqlmap/1"),
            _web("203.0.113.8", "curl"),
            {"event.dataset": "firewall", "destination.port": 23, "event.action": "ACCEPT"},
        ]
    )
    found = SigmaDetector(_rules()).matches(batch)
    assert sorted(found) == sorted([SCANNER, TELNET])
    assert found[SCANNER].columns == batch.columns
    assert found[SCANNER].get_column("log.file.line").to_list() == [1]
    assert found[TELNET].get_column("destination.port").to_list() == [23]


def test_matches_limited_to_keys() -> None:
    """matches(keys=...) evaluates and returns only those rules."""
    batch = _batch([_web("203.0.113.7", "sqlmap/1")])
    detector = SigmaDetector(_rules())
    assert detector.matches(batch, keys=[TELNET]) == {}
    assert list(detector.matches(batch, keys=[SCANNER])) == [SCANNER]


def test_a_row_matching_two_rules_is_in_both() -> None:
    """One event matching two rules appears in each rule's matches."""
    both = [
        compiled(
            {"s": {"message|contains": "x"}, "condition": "s"},
            id="aaaaaaaa-0000-4000-8000-000000000001",
        ),
        compiled(
            {"s": {"message|contains": "y"}, "condition": "s"},
            id="aaaaaaaa-0000-4000-8000-000000000002",
        ),
    ]
    batch = _batch([{"event.dataset": "jsonl", "message": "xy"}])
    detector = SigmaDetector(both)
    frame = detector.match_frame(batch)
    assert sorted(frame.get_column(RULE_INDEX).to_list()) == [0, 1]
    assert len(detector.process(batch)) == 2


def test_key_for_accepts_name_or_id() -> None:
    """Correlations may reference a rule by name or by id."""
    detector = SigmaDetector(_rules())
    assert detector.key_for("ssh_root_failure") == SSH_ROOT
    assert detector.key_for(SSH_ROOT) == SSH_ROOT
    assert detector.key_for("nope") is None


def test_process_with_matches_agrees() -> None:
    """One evaluation gives the same alerts and matches as the separate calls."""
    batch = _batch([_web("203.0.113.7", "sqlmap/1"), _web("203.0.113.9", "Nikto")])
    detector = SigmaDetector(_rules())
    alerts, found = detector.process_with_matches(batch)
    assert [a.entity for a in alerts] == [a.entity for a in detector.process(batch)]
    assert found[SCANNER].height == 2


def test_no_match_and_empty_batch() -> None:
    """No matching row gives no alert and no matches; an empty batch too."""
    detector = SigmaDetector(_rules())
    quiet = _batch([_web("203.0.113.7", "Mozilla/5.0")])
    assert (detector.process(quiet), detector.matches(quiet)) == ([], {})
    assert detector.process(quiet.clear()) == []


def test_null_timestamp_uses_clock() -> None:
    """A batch without times (not from the pipeline) still yields alerts, timed by the clock."""
    batch = _batch([_web("203.0.113.7", "sqlmap/1")]).with_columns(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("@timestamp")
    )
    clock = FixedClock(T0 + timedelta(days=1))
    (alert,) = SigmaDetector(_rules(), clock=clock).process(batch)
    assert alert.first_seen == alert.last_seen == clock.now()


def test_schema_change_between_batches() -> None:
    """The same rule works when a field is numeric in one batch and text in the next."""
    rule = compiled(
        {"s": {"sc-status": 404, "cs-method": "GET"}, "condition": "s"}, {"category": "webserver"}
    )
    detector = SigmaDetector([rule])
    as_int = _batch(
        [
            {
                "event.dataset": "apache",
                "http.response.status_code": 404,
                "http.request.method": "GET",
            }
        ]
    )
    as_text = as_int.with_columns(pl.col("http.response.status_code").cast(pl.String))
    assert as_int.schema["http.response.status_code"] == pl.Int32
    assert len(detector.process(as_int)) == len(detector.process(as_text)) == 1


def test_duplicate_rule_keys_are_refused() -> None:
    """Two rules with one key cannot be told apart in matches: refused."""
    rule = compiled({"s": {"message": "x"}, "condition": "s"})
    with pytest.raises(ValueError, match="two rules share the key"):
        SigmaDetector([rule, rule])


def test_silent_rules_match_but_raise_no_alert() -> None:
    """Rules a correlation uses (generate: false) give matches but no alerts."""
    loaded = load_rules([RULES])
    silent = silent_references(loaded.correlations)
    assert silent == {SSH_ROOT}
    ssh = {
        "event.dataset": "sshd",
        "process.name": "sshd",
        "event.action": "ssh_login",
        "event.outcome": "failure",
        "user.name": "root",
        "source.ip": "203.0.113.7",
    }
    batch = _batch([ssh, _web("203.0.113.7", "sqlmap/1")])
    detector = SigmaDetector(_rules(), silent=silent)
    alerts, found = detector.process_with_matches(batch)
    assert [a.rule_id for a in alerts] == [SCANNER]
    assert found[SSH_ROOT].height == 1


def test_flush_has_nothing_pending() -> None:
    """Plain rules keep no state between batches."""
    assert SigmaDetector(_rules()).flush(T0) == []


def test_long_patterns_on_repeated_values_match_as_row_by_row() -> None:
    """A long pattern answered once per distinct value (URLs repeat) flags the same rows
    as the pattern run on every row, nulls and empty values included."""
    long_alternation = "|".join(f"probe{n:03d}" for n in range(40))  # over 200 characters
    rule = compiled(
        {
            "sel": {"url.query|re|i": f"(?:{long_alternation}|^$|union.+select)"},
            "plain": {"url.path|contains": "admin"},
            "condition": "sel or plain",
        },
        {"category": "webserver"},
    )
    queries = ["q=1", "q=UNION all SELECT 1", "", None, "x=probe017", "q=1"] * 400
    paths = ["/", "/Admin/", "/index.html"] * 800
    batch = _batch(
        [
            {"event.dataset": "apache", "source.ip": "203.0.113.7", "url.query": q, "url.path": p}
            for q, p in zip(queries, paths, strict=True)
        ]
    )
    found = SigmaDetector([rule]).match_frame(batch).get_column("log.file.line").to_list()
    expected = batch.filter(rule.expr(batch.schema)).get_column("log.file.line").to_list()
    hit = {"q=UNION all SELECT 1", "", "x=probe017"}
    flagged = [q in hit or "admin" in p.lower() for q, p in zip(queries, paths, strict=True)]
    assert found == expected == [n + 1 for n, f in enumerate(flagged) if f]
