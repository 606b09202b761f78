"""Alert shelves: the in-memory and the spilled one keep and order a run's alerts alike."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.alerts.factories import T0, alert
from vigil.alerts.gate import AlertGate
from vigil.alerts.model import Evidence
from vigil.alerts.shelf import AlertShelf, MemoryShelf, SpillShelf
from vigil.clock import FixedClock

SHELVES = [MemoryShelf, SpillShelf]


def _filled(shelf: AlertShelf) -> list[str]:
    """Put alerts out of report order, with ties, and replace one in place; their ids."""
    late = alert("port_scan", at=timedelta(minutes=5))
    tie_b = alert("ssh_bruteforce", at=timedelta(minutes=1))
    tie_a = alert("port_scan", at=timedelta(minutes=1))
    same = alert("port_scan", at=timedelta(minutes=1), **{"source.ip": "203.0.113.9"})
    for a in (late, tie_b, tie_a, same):
        shelf.put(a)
    shelf.put(replace(tie_b, count=99))
    return [late.id, tie_b.id, tie_a.id, same.id]


@pytest.mark.parametrize("kind", SHELVES)
def test_report_order_is_first_event_then_rule_then_first_put(kind: type[AlertShelf]) -> None:
    """Alerts come by first_seen, then rule name, then the order they were first put."""
    shelf = kind()
    late, tie_b, tie_a, same = _filled(shelf)
    assert [a.id for a in shelf.ordered()] == [tie_a, same, tie_b, late]
    assert len(shelf) == 4
    assert list(shelf) == [late, tie_b, tie_a, same]


@pytest.mark.parametrize("kind", SHELVES)
def test_replaced_alert_is_read_back(kind: type[AlertShelf]) -> None:
    """Putting an alert with a known id replaces it; unknown ids are missing."""
    shelf = kind()
    _, tie_b, _, _ = _filled(shelf)
    assert shelf[tie_b].count == 99
    assert shelf.get("no-such-id") is None
    with pytest.raises(KeyError, match="no-such-id"):
        shelf["no-such-id"]


def test_spilled_documents_equal_the_memory_ones() -> None:
    """Both shelves give the same report documents, with the same "new" flags."""
    memory, spill = MemoryShelf(), SpillShelf()
    ids = _filled(memory)
    for alert_id in ids:
        spill.put(memory[alert_id])
    known = {ids[2]}
    assert list(spill.documents(known)) == memory.documents(known)
    assert [d["new"] for d in memory.documents(known)] == [False, True, True, True]


def test_spilled_ordered_alerts_compare_as_a_list() -> None:
    """The spilled alerts in report order equal the memory shelf's list of them."""
    memory, spill = MemoryShelf(), SpillShelf()
    for alert_id in _filled(memory):
        spill.put(memory[alert_id])
    assert spill.ordered() == memory.ordered()
    assert spill.ordered()[-1] == memory.ordered()[-1]
    assert SpillShelf().ordered() == []


def test_gate_folds_repeats_into_spilled_alerts() -> None:
    """A repeat folded into a spilled alert adds its count and evidence, as in memory."""
    runs = []
    for shelf in (MemoryShelf(), SpillShelf()):
        gate = AlertGate(FixedClock(T0), shelf=shelf, max_evidence=3)
        first = replace(alert(count=5), evidence=(Evidence(T0, "a.log", 1, "x"),))
        again = replace(
            alert(at=timedelta(minutes=10), count=3),
            evidence=tuple(
                Evidence(T0 + timedelta(minutes=10), "a.log", n, "y") for n in (2, 3, 4)
            ),
        )
        gate.admit([first])
        gate.admit([again])
        (only,) = gate.alerts.values()
        runs.append((only.count, only.last_seen, [e.line for e in only.evidence], gate.repeats))
    assert runs[0] == runs[1] == (8, T0 + timedelta(minutes=11), [1, 2, 3], 1)


def test_spilled_texts_survive_flushes_and_replacement() -> None:
    """Alerts put across many flushes of the spill file, one replaced after its flush,
    read back as put, in report order."""
    big = "x" * 4096
    alerts = [
        replace(
            alert(at=timedelta(seconds=n), **{"source.ip": f"203.0.113.{n % 250}"}),
            evidence=(Evidence(T0 + timedelta(seconds=n), "a.log", n, f"{n} {big}"),),
        )
        for n in range(600)  # ~2.5 MB: more than one flush
    ]
    shelf = SpillShelf()
    for a in alerts:
        shelf.put(a)
    folded = replace(alerts[3], count=77)
    shelf.put(folded)
    assert shelf[alerts[3].id] == folded
    assert shelf[alerts[599].id] == alerts[599]
    assert [a.id for a in shelf.ordered()] == [a.id for a in alerts]
    assert [d["count"] for d in shelf.documents(set())][:5] == [5, 5, 5, 77, 5]
    shelf.close()


def test_closed_spill_shelf_lets_its_file_go() -> None:
    """After close, the shelf's file descriptor is no longer open."""
    shelf = SpillShelf()
    shelf.put(alert())
    fd = shelf._fd
    os.fstat(fd)
    shelf.close()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_spilled_report_in_any_put_order_equals_the_memory_one() -> None:
    """Alerts put in shuffled time order, big enough to span many read windows, come
    back in report order with their own texts."""
    order = random.Random(7).sample(range(400), 400)
    memory, spill = MemoryShelf(), SpillShelf()
    for n in order:
        a = replace(
            alert(at=timedelta(seconds=n // 2), **{"source.ip": f"203.0.113.{n % 200}"}),
            evidence=(Evidence(T0, "a.log", n, "y" * (n * 37 % 9000)),),
        )
        memory.put(a)
        spill.put(a)
    assert list(spill.documents({memory.ordered()[5].id})) == memory.documents(
        {memory.ordered()[5].id}
    )
