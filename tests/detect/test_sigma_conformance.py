"""SigmaHQ's own positive samples: each rule's detection fires on its regression event.

SigmaHQ's `regression_data/` pairs a rule id with the Windows event (as JSON) the rule
must match. vigil has no Windows parser, so the rules are compiled against a
pass-through logsource (every field name is a column) and run on one-row frames made
of the event's EventData (or UserData) fields plus EventID, Channel, Provider_Name and
Computer (raw text samples: one `message` per line). It checks modifier and condition
semantics on real data, not logsource routing. Only the rule files the samples name
are parsed, to keep it quick.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from vigil.detect.sigma.compiler import CompiledRule, compile_rule
from vigil.detect.sigma.loader import load_rules
from vigil.detect.sigma.mapping import Logsource

SIGMA = Path(__file__).parents[2] / ".." / "shared" / "datasets" / "sigma"
ANY_FIELD = Logsource("passthrough", passthrough=True)
_ID = re.compile(r"^id: *([0-9a-f-]{36})", re.MULTILINE)


def _documents(text: str) -> list[dict[str, Any]]:
    """The JSON objects of a sample file (some hold several, one after another)."""
    decoder, out, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return out
        doc, pos = decoder.raw_decode(text, pos)
        out.extend(doc if isinstance(doc, list) else [doc])


def _event_row(doc: dict[str, Any]) -> dict[str, Any]:
    event = doc.get("Event", doc)
    system = event.get("System", {})
    data = dict(event.get("EventData") or {})
    for inner in (event.get("UserData") or {}).values():
        if isinstance(inner, dict):
            data |= inner
    row = {
        k: json.dumps(v) if isinstance(v, (dict, list)) else v
        for k, v in data.items()
        if not k.startswith("#")
    }
    event_id = system.get("EventID")
    if isinstance(event_id, dict):
        event_id = event_id.get("#text")
    provider = (system.get("Provider") or {}).get("#attributes", {})
    return row | {
        "EventID": event_id,
        "Channel": system.get("Channel"),
        "Provider_Name": provider.get("Name"),
        "Computer": system.get("Computer"),
    }


def _samples() -> list[tuple[str, Path]]:
    out = []
    for info in sorted((SIGMA / "regression_data").rglob("info.yml")):
        for item in yaml.safe_load(info.read_text()).get("rule_metadata", []):
            out.append((str(item["id"]), info.parent))
    return out


@pytest.fixture(scope="module")
def core_rules() -> dict[str, Any]:
    wanted = {rule_id for rule_id, _ in _samples()}
    files = [
        p
        for p in (SIGMA / "rules").rglob("*.yml")
        if (m := _ID.search(p.read_text(encoding="utf-8"))) and m.group(1) in wanted
    ]
    return {str(r.id): r for r in load_rules(files).rules}


def test_regression_samples_fire(core_rules: dict[str, Any]) -> None:
    """Every SigmaHQ core rule with a regression sample matches it, and not an empty event."""
    misses, checked = [], 0
    for rule_id, folder in _samples():
        rule = core_rules.get(rule_id)
        if rule is None:  # the rule lives in a SigmaHQ folder not copied here
            continue
        compiled = compile_rule(rule, ANY_FIELD)
        assert isinstance(compiled, CompiledRule), compiled
        docs = [d for s in sorted(folder.glob("*.json")) for d in _documents(s.read_text())]
        raw = [line for s in sorted(folder.glob("*.raw")) for line in s.read_text().splitlines()]
        rows = [_event_row(d) for d in docs] + [{"message": line} for line in raw]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        # The same fields, all null: a rule that fired here would fire on anything.
        blank = pl.DataFrame(
            {c: [None] for c in frame.columns}, schema=dict.fromkeys(frame.columns, pl.String)
        )
        checked += 1
        if not frame.select(compiled.expr(frame.schema).any()).item():
            misses.append(f"{rule.title} ({folder.name})")
        if blank.select(compiled.expr(blank.schema).any()).item():
            misses.append(f"{rule.title} ({folder.name}) fires on an empty event")
    print(f"\nSigmaHQ regression samples checked: {checked}, missed: {len(misses)}")
    assert checked >= 190
    assert misses == []
