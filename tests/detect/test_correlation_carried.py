"""Carried rows as numpy columns: key order, hash slots, and the frame they show as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tests.detect.test_correlation_engine import BRUTE, USERS_PER_SOURCE, engine, rows
from vigil.detect.correlation.carried import Carried
from vigil.detect.correlation.slots import may_fire, sharing_slots
from vigil.detect.correlation.spec import CorrelationKind


def _carried(keys: list[int], ts: list[int], v: list[int] | None = None) -> Carried:
    n = len(keys)
    return Carried(
        keys=(np.array(keys, dtype=np.uint64),),
        ts=np.array(ts, dtype=np.int64),
        w=np.ones(n, dtype=np.int64),
        v=np.array(v if v is not None else [0] * n, dtype=np.int64),
        ids=np.arange(n, dtype=np.int64),
        done=np.zeros(n, dtype=np.bool_),
        peak=np.full(n, -1, dtype=np.int64),
        peak_at=np.full(n, -1, dtype=np.int64),
    )


def test_key_order_sorts_by_key_then_time_and_marks_new_keys() -> None:
    """Rows come out by key, then time, equal times in arrival order."""
    block = _carried([7, 3, 7, 3, 7], [5, 9, 1, 2, 5])
    order, new_key = block.key_order()
    assert order.tolist() == [3, 1, 2, 0, 4]
    assert new_key.tolist() == [True, False, True, False, False]
    assert block.distinct_keys() == 2


def test_take_and_concat_keep_every_column_together() -> None:
    """A mask and an index pick the same rows; concat puts parts one after the other."""
    block = _carried([1, 2, 3], [10, 20, 30])
    by_mask = block.take(np.array([True, False, True]))
    by_index = block.take(np.array([0, 2]))
    both = Carried.concat([by_mask, Carried.empty(1), by_index])
    assert both.ts.tolist() == [10, 30, 10, 30]
    assert both.keys[0].tolist() == [1, 3, 1, 3]


@pytest.mark.parametrize("kind", [CorrelationKind.EVENT_COUNT, CorrelationKind.VALUE_COUNT])
def test_may_fire_never_drops_a_key_that_reaches_the_bound(kind: CorrelationKind) -> None:
    """Every key whose rows reach `need` is kept, whatever keys share its slot."""
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**63, 300, dtype=np.uint64)[rng.integers(0, 300, 5000)]
    block = _carried(keys.tolist(), list(range(5000)), rng.integers(0, 4, 5000).tolist())
    kept = may_fire(block, kind, need=3)
    frame = pl.DataFrame({"k": keys, "v": block.v})
    measure = pl.len() if kind is CorrelationKind.EVENT_COUNT else pl.col("v").n_unique()
    hot = frame.group_by("k").agg(measure.alias("m")).filter(pl.col("m") >= 3).get_column("k")
    assert kept[np.isin(keys, hot.to_numpy())].all()
    assert not may_fire(_carried([1, 1], [0, 1]), CorrelationKind.EVENT_COUNT, need=3).any()


def test_sharing_slots_finds_every_carried_key_a_batch_brings_again() -> None:
    """A carried key that the new rows have is always found; others mostly are not."""
    held = _carried(list(range(1000, 1100)), list(range(100)))
    new = _carried([1005, 1050, 7], [200, 201, 202])
    touched = sharing_slots(held, new)
    assert touched[[5, 50]].all()
    assert touched.sum() <= 4


def test_carry_shows_the_rows_as_a_frame_and_takes_one_back() -> None:
    """`carry` lays the rows out as rows.schema, text included; setting it back restores
    the same rows (how the live daemon restores decided episodes)."""
    eng = engine(BRUTE)
    eng.process({"ssh_failed": rows([0, 1, 2])})
    (state,) = eng._states  # the frame of one rule's state is what is tested
    frame = state.carry
    assert frame.get_column("_g0").to_list() == ["203.0.113.7"] * 3
    assert frame.get_column("_line").to_list() == [1, 2, 3]
    fresh = engine(BRUTE)
    (again,) = fresh._states
    again.carry = frame
    assert again.carry.drop("_h").equals(frame.drop("_h"))
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    alerts = fresh.process({"ssh_failed": rows([3, 4])}) + fresh.flush(t0 + timedelta(days=1))
    assert [a.count for a in alerts] == [5]


def test_value_count_carry_holds_the_counted_text() -> None:
    """A value_count rule's carried frame holds each row's counted value as text."""
    eng = engine(USERS_PER_SOURCE)
    eng.process({"ssh_failed": rows([0, 1], **{"user.name": ["root", "admin"]})})
    (state,) = eng._states
    assert state.carry.get_column("_v").to_list() == ["root", "admin"]
