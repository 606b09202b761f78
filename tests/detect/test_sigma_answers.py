"""Costly tests answered per distinct value, remembered from one batch to the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tests.detect.sigma_util import compiled
from vigil.detect.sigma import answers
from vigil.detect.sigma.compiler import CompiledRule
from vigil.detect.sigma.detector import SigmaDetector
from vigil.schema.batch import conform

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# Over answers.LONG_PATTERN characters: answered per value when the values repeat.
PROBES = "|".join(f"probe{n:03d}" for n in range(40))


def _rule() -> CompiledRule:
    return compiled(
        {"sel": {"url.query|re|i": f"(?:{PROBES}|union.+select)"}, "condition": "sel"},
        {"category": "webserver"},
    )


def _batch(queries: list[str | None], first_line: int = 1) -> pl.DataFrame:
    return conform(
        pl.DataFrame(
            {
                "@timestamp": [T0 + timedelta(seconds=i) for i in range(len(queries))],
                "event.dataset": "apache",
                "source.ip": "203.0.113.7",
                "url.query": queries,
                "log.file.path": "access.log",
                "log.file.line": list(range(first_line, first_line + len(queries))),
            }
        )
    )


def _lines(detector: SigmaDetector, batch: pl.DataFrame) -> list[int]:
    return detector.match_frame(batch).get_column("log.file.line").to_list()


def test_values_of_an_earlier_batch_are_answered_again() -> None:
    """A batch of values all seen before flags the same rows as the rule row by row."""
    detector = SigmaDetector([_rule()])
    queries = ["q=1", "x=PROBE017", "q=union all select 1", None, "q=2"] * 100
    first, second = _batch(queries), _batch(queries[::-1], first_line=1000)
    assert _lines(detector, first) == sorted([*range(2, 501, 5), *range(3, 501, 5)])
    expected = second.filter(_rule().expr(second.schema)).get_column("log.file.line").to_list()
    assert _lines(detector, second) == expected
    assert len(expected) == 200


def test_a_new_value_is_tested_when_it_first_appears() -> None:
    """Values unseen in earlier batches are tested, hits and misses alike."""
    detector = SigmaDetector([_rule()])
    _lines(detector, _batch(["q=1", "q=2"] * 100))
    later = _batch(["q=1", "y=probe039", "q=3", "q=2"] * 100, first_line=1000)
    assert _lines(detector, later) == list(range(1001, 1400, 4))


def test_known_values_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_KNOWN remembered values only the last batch's are kept, and answers hold."""
    monkeypatch.setattr(answers, "MAX_KNOWN", 60)
    detector = SigmaDetector([_rule()])
    held = []
    for k in range(6):
        queries = [f"q={k}-{n % 25}" for n in range(200)] + ["z=probe005"] * 20
        batch = _batch(queries, first_line=k * 1000)
        assert _lines(detector, batch) == list(range(k * 1000 + 200, k * 1000 + 220))
        known = detector._answers._known  # the bound is what is tested
        held.append(sum(frame.height for frame in known.values()))
    assert held == [26, 51, 26, 51, 26, 51]


def test_short_tests_on_a_field_of_few_values_are_answered_per_value() -> None:
    """Several short tests on a field of a handful of values are answered per value, with
    the same rows as row by row: case folded, nulls never matching."""
    rule = compiled(
        {
            "login": {"event.action": "ssh_login"},
            "failed": {"event.outcome": "failure"},
            "probe": {"event.action": ["ssh_invalid_user", "ssh_no_identification"]},
            "condition": "(login and failed) or probe",
        }
    )
    actions = ["ssh_login", "SSH_Login", None, "ssh_invalid_user", "session_opened", "x"] * 500
    outcomes = ["failure", "success", "failure", None, "failure"] * 600
    batch = conform(
        pl.DataFrame(
            {
                "@timestamp": [T0] * len(actions),
                "event.dataset": "jsonl",
                "event.action": actions,
                "event.outcome": outcomes,
                "log.file.line": list(range(1, len(actions) + 1)),
            }
        )
    )
    detector = SigmaDetector([rule])
    given = detector._answers.answers(batch, [(rule.logsource, [rule])])  # the path tested
    assert {t.field for t in given} == {"event.action"}
    expected = batch.filter(rule.expr(batch.schema)).get_column("log.file.line").to_list()
    assert _lines(detector, batch) == expected
    assert len(expected) == 1100  # 11 of every 30 rows
