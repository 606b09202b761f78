"""The per-run tally of events by source, action, outcome and dataset."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from vigil.pipeline import report
from vigil.pipeline.report import EventTally, ranked
from vigil.schema.batch import conform
from vigil.schema.fields import F


def _batch(rows: list[tuple[str | None, str | None, str | None, int]]) -> pl.DataFrame:
    source, action, outcome, count = zip(*rows, strict=True)
    return conform(
        pl.DataFrame(
            {
                F.SOURCE_IP: list(source),
                F.EVENT_ACTION: list(action),
                F.EVENT_OUTCOME: list(outcome),
                F.EVENT_COUNT: pl.Series(count, dtype=pl.UInt32),
                F.EVENT_DATASET: ["sshd"] * len(rows),
            }
        )
    )


BATCHES = [
    [("203.0.113.7", "ssh_login", "failure", 3), (None, "sudo_command", "success", 1)],
    [("203.0.113.7", None, None, 1), ("198.51.100.2", "ssh_login", "success", 1)],
    [("198.51.100.2", "ssh_login", "failure", 5), ("203.0.113.9", None, "unknown", 2)],
]


@pytest.mark.parametrize("merge_rows", [200_000, 1])
def test_counts_are_weighted_and_skip_nulls_across_batches(
    monkeypatch: pytest.MonkeyPatch, merge_rows: int
) -> None:
    """Each event counts event.count times under its source, action, outcome and
    dataset; null values are not counted; merging partial counts changes nothing."""
    monkeypatch.setattr(report, "_MERGE_ROWS", merge_rows)
    tally = EventTally()
    for rows in BATCHES:
        tally.consume(_batch(rows))
    tally.close()
    assert tally.sources == Counter({"203.0.113.7": 4, "198.51.100.2": 6, "203.0.113.9": 2})
    assert tally.actions == Counter({"ssh_login": 9, "sudo_command": 1})
    assert tally.outcomes == Counter({"failure": 8, "success": 2, "unknown": 2})
    assert tally.datasets == Counter({"sshd": 13})


def test_close_without_batches_leaves_the_counters_empty() -> None:
    """A run without events has empty counters."""
    tally = EventTally()
    tally.close()
    assert not (tally.sources or tally.actions or tally.outcomes or tally.datasets)


def test_ranked_breaks_ties_by_value_whatever_the_insertion_order() -> None:
    """Equal counts come out by value, so a report does not depend on merge order."""
    one = Counter({"198.51.100.9": 3, "192.0.2.1": 5, "203.0.113.4": 3, "192.0.2.7": 3})
    two = Counter(dict(reversed(list(one.items()))))
    expected = [("192.0.2.1", 5), ("192.0.2.7", 3), ("198.51.100.9", 3), ("203.0.113.4", 3)]
    assert ranked(one) == ranked(two) == expected
    assert ranked(two, 2) == expected[:2]
