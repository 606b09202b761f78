"""Helpers for the Sigma tests: rules from Python dicts, evaluation on small frames."""

from __future__ import annotations

from typing import Any

import polars as pl
import yaml

from vigil.detect.sigma.compiler import CompiledRule, Unsupported, compile_rule
from vigil.detect.sigma.loader import load_rules_text

# vigil's own logsource: ECS field names, events of the jsonl dataset.
JSONL = {"product": "vigil", "service": "jsonl"}


def rule_text(
    detection: dict[str, Any], logsource: dict[str, str] | None = None, **extra: Any
) -> str:
    doc = {
        "title": extra.pop("title", "test rule"),
        "id": extra.pop("id", "5d0e5ba1-0000-4000-8000-000000000001"),
        "status": "test",
        "logsource": logsource or JSONL,
        "detection": detection,
        "level": extra.pop("level", "high"),
        **extra,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def compile_any(
    detection: dict[str, Any], logsource: dict[str, str] | None = None, **extra: Any
) -> CompiledRule | Unsupported:
    loaded = load_rules_text(rule_text(detection, logsource, **extra))
    assert not loaded.errors, loaded.errors
    (rule,) = loaded.rules
    return compile_rule(rule)


def compiled(
    detection: dict[str, Any], logsource: dict[str, str] | None = None, **extra: Any
) -> CompiledRule:
    result = compile_any(detection, logsource, **extra)
    assert isinstance(result, CompiledRule), result
    return result


def unsupported(
    detection: dict[str, Any], logsource: dict[str, str] | None = None, **extra: Any
) -> str:
    result = compile_any(detection, logsource, **extra)
    assert isinstance(result, Unsupported), result
    return result.reason


def hits(rule: CompiledRule, frame: pl.DataFrame) -> list[bool]:
    """Whether the rule's condition holds on each row (logsource not applied)."""
    return frame.select(rule.expr(frame.schema).alias("hit")).get_column("hit").to_list()


def field_hits(field: str, value: Any, rows: list[Any], dtype: Any = None) -> list[bool]:
    """Evaluate `field: value` (field may carry modifiers) on one column of `rows`."""
    column = field.split("|", 1)[0]
    rule = compiled({"sel": {field: value}, "condition": "sel"})
    series = pl.Series(column, rows, dtype=dtype, strict=False)
    return hits(rule, pl.DataFrame([series]))
