"""The per-batch Sigma detector: compiled rules in, Alerts (and matching rows) out.

Rules are grouped by logsource. Per batch, each group filters the batch once (its
logsource's rows) and evaluates all its rules' expressions in one lazy `select`, so
polars shares common sub-expressions and reads only the columns the tests need; the
groups run together through `pl.collect_all`. They give back row numbers and one flag
per rule, and the matching rows are gathered from the batch once, into one long frame
(one row per event and matching rule, each rule's rows in one run), from which alerts
are one `group_by` and each rule's matches a slice. Costly tests on repeated values
are answered per distinct value (see `answers`).

An alert is one rule about one entity within one batch. The entity is what the rule's
`vigil: {entity: [...]}` option names, else per event the first non-null of
source.ip, user.name, host.name. Alerts carry the rule's author (`Alert.author`), which
the Detection Rule License of SigmaHQ's rules requires.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from vigil.alerts.model import MAX_EVIDENCE, Alert, Evidence, iso_texts
from vigil.clock import Clock, SystemClock
from vigil.detect.sigma.answers import PerValueAnswers
from vigil.detect.sigma.compiler import CompiledRule, FieldTest, rule_key
from vigil.detect.sigma.mapping import Logsource, Schema, column
from vigil.schema.fields import TIMESTAMP_DTYPE, F

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule

# The column of the match frame that says which rule (its index in `SigmaDetector.rules`).
RULE_INDEX = "__vigil_rule"
_ROW = "__vigil_row"
DEFAULT_ENTITY: tuple[str, ...] = (F.SOURCE_IP, F.USER_NAME, F.HOST_NAME)
_PLAN_CACHE = 64
# Distinct event.datasets up to which a batch's logsource tests are decided per batch.
_DATASETS = 8


def silent_references(correlations: Iterable[SigmaCorrelationRule]) -> set[str]:
    """Keys of the rules that correlations use without `generate: true`: in Sigma, such
    rules feed their correlation and raise no alert of their own."""
    out: set[str] = set()
    for correlation in correlations:
        if correlation.generate:
            continue
        for ref in correlation.rules or ():
            resolved = getattr(ref, "rule", None)
            out.add(rule_key(resolved) if resolved is not None else ref.reference)
    return out


@dataclass(frozen=True)
class _Group:
    logsource: Logsource
    rules: tuple[tuple[int, CompiledRule], ...]


@dataclass(frozen=True)
class _Matched:
    """A match frame and where each rule's rows lie in it."""

    frame: pl.DataFrame  # the matching rows, one run per rule, with RULE_INDEX
    runs: list[tuple[int, int, int]]  # (rule index, first row, rows), runs not empty


class SigmaDetector:
    """Evaluates compiled (non-correlation) Sigma rules on Batches."""

    def __init__(
        self,
        rules: Iterable[CompiledRule],
        *,
        clock: Clock | None = None,
        max_evidence: int = MAX_EVIDENCE,
        silent: Collection[str] = (),
    ) -> None:
        """`silent` names rules (by key, name or id) whose matches are computed but that
        raise no alerts of their own: the rules a correlation uses with `generate: false`
        (see `silent_references`)."""
        self.rules: list[CompiledRule] = list(rules)
        self._clock = clock or SystemClock()
        self._max_evidence = max_evidence
        self._by_key: dict[str, int] = {}
        self._refs: dict[str, str] = {}
        for i, rule in enumerate(self.rules):
            if rule.key in self._by_key:
                raise ValueError(f"two rules share the key {rule.key!r} ({rule.title!r})")
            self._by_key[rule.key] = i
            for ref in (rule.key, rule.meta.sigma_name, rule.meta.id):
                if ref:
                    self._refs.setdefault(ref, rule.key)
        self._silent = {self._by_key[k] for r in silent if (k := self._refs.get(r)) is not None}
        groups: dict[str, list[tuple[int, CompiledRule]]] = {}
        sources: dict[str, Logsource] = {}
        for i, rule in enumerate(self.rules):
            groups.setdefault(rule.logsource.name, []).append((i, rule))
            sources[rule.logsource.name] = rule.logsource
        self._groups = [_Group(sources[name], tuple(members)) for name, members in groups.items()]
        self._plans: dict[tuple[Any, ...], list[pl.Expr]] = {}
        self._answers = PerValueAnswers()

    def key_for(self, reference: str) -> str | None:
        """The match key of the rule a correlation refers to by name or id, if loaded."""
        return self._refs.get(reference)

    def flush(self, now: datetime) -> list[Alert]:  # noqa: ARG002 - the detectors' contract
        """Plain rules keep no window between batches: nothing is pending."""
        return []

    def process(self, batch: pl.DataFrame) -> list[Alert]:
        """One Alert per rule and entity that matched in this batch."""
        return self.alerts_from(self.match_frame(batch), batch.schema)

    def matches(
        self, batch: pl.DataFrame, keys: Collection[str] | None = None
    ) -> dict[str, pl.DataFrame]:
        """Per rule key, the rows of `batch` the rule matched (all columns of the batch).

        `keys` limits the answer (and the work) to those rules; rules without a match
        are absent from the result.
        """
        only = None if keys is None else {self._by_key[k] for k in keys if k in self._by_key}
        return self._split_runs(self._matched(batch, only))

    def process_with_matches(
        self, batch: pl.DataFrame
    ) -> tuple[list[Alert], dict[str, pl.DataFrame]]:
        """Alerts and per-rule matching rows from one evaluation of the batch."""
        matched = self._matched(batch)
        return self.alerts_from(matched.frame, batch.schema), self._split_runs(matched)

    def split(self, frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """A match frame cut into one frame per rule key."""
        if frame.is_empty():
            return {}
        parts = frame.partition_by(RULE_INDEX, as_dict=True, include_key=False)
        return {self.rules[int(idx[0])].key: part for idx, part in parts.items()}

    def match_frame(self, batch: pl.DataFrame, only: Collection[int] | None = None) -> pl.DataFrame:
        """The batch's rows that match, one per (event, matching rule), with `RULE_INDEX`."""
        return self._matched(batch, only).frame

    def _split_runs(self, matched: _Matched) -> dict[str, pl.DataFrame]:
        # A rule's rows are one run of the match frame: a slice shares its buffers.
        frame = matched.frame.drop(RULE_INDEX)
        return {self.rules[i].key: frame.slice(lo, n) for i, lo, n in matched.runs}

    def _matched(self, batch: pl.DataFrame, only: Collection[int] | None = None) -> _Matched:
        schema = batch.schema
        present = _datasets(batch)
        chosen: list[tuple[_Group, list[tuple[int, CompiledRule]]]] = []
        for group in self._groups:
            members = [(i, r) for i, r in group.rules if only is None or i in only]
            if members and not group.logsource.excludes(present):
                chosen.append((group, members))
        # Logsources whose rules search with long patterns are run only when the batch
        # has rows of them (a batch is one file's events): their tests are answered per
        # value below. Any other logsource without rows costs its filter alone.
        costly = [
            k
            for k, (_, members) in enumerate(chosen)
            if any(self._answers.has_long_tests(r, schema) for _, r in members)
        ]
        if costly:
            found = batch.select(
                chosen[k][0].logsource.filter(schema, present).any().alias(str(k)) for k in costly
            ).row(0)
            absent = {k for k, here in zip(costly, found, strict=True) if not here}
            chosen = [c for k, c in enumerate(chosen) if k not in absent]
        given = (
            self._answers.answers(batch, [(g.logsource, [r for _, r in m]) for g, m in chosen])
            if chosen
            else {}
        )
        # Each logsource's plan yields only row numbers and one flag per rule, for the
        # rows that match some rule: the optimiser then reads just the columns the
        # tests need, and the batch's rows are gathered once below, not per plan.
        queries: list[pl.LazyFrame] = []
        for group, members in chosen:
            names = [f"__vigil_r{i}" for i, _ in members]
            queries.append(
                batch.lazy()
                .with_row_index(_ROW)
                .filter(group.logsource.filter(schema, present))
                .select(
                    _ROW, *(e.fill_null(False) for e in self._plan(group, members, schema, given))
                )
                .filter(pl.any_horizontal(names))
            )
        picked: list[np.ndarray] = []
        runs: list[tuple[int, int, int]] = []
        start = 0
        for flagged, (_, members) in zip(pl.collect_all(queries), chosen, strict=True):
            rows = flagged.get_column(_ROW).to_numpy()
            for i, _ in members:
                # An event matching two rules is two rows, one in each rule's run.
                mine = rows[flagged.get_column(f"__vigil_r{i}").to_numpy()]
                if mine.size:
                    picked.append(mine)
                    runs.append((i, start, mine.size))
                    start += mine.size
        take = np.concatenate(picked) if picked else np.zeros(0, dtype=np.uint32)
        rule = np.repeat(np.array([i for i, _, _ in runs], dtype=np.uint32), [n for *_, n in runs])
        frame = batch[pl.Series(take, dtype=pl.UInt32)].hstack(
            [pl.Series(RULE_INDEX, rule, dtype=pl.UInt32)]
        )
        return _Matched(frame, runs)

    def _plan(
        self,
        group: _Group,
        members: list[tuple[int, CompiledRule]],
        schema: Schema,
        given: Mapping[FieldTest, pl.Expr],
    ) -> list[pl.Expr]:
        if any(t in given for _, r in members for t in self._answers.tests_of(r, schema)):
            # Answers that hold for this batch only.
            return [r.expr(schema, given).alias(f"__vigil_r{i}") for i, r in members]
        # Lowering is cheap but not free; a source's batches share one schema.
        key = (group.logsource.name, tuple(i for i, _ in members), tuple(schema.items()))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            plan = [r.expr(schema).alias(f"__vigil_r{i}") for i, r in members]
            self._plans[key] = plan
        return plan

    def alerts_from(self, frame: pl.DataFrame, schema: Schema) -> list[Alert]:
        """Alerts from a match frame: one `group_by` per distinct entity choice."""
        if frame.is_empty():
            return []
        by_entity: dict[tuple[str, ...] | None, list[int]] = {}
        for idx in frame.get_column(RULE_INDEX).unique().to_list():
            if idx not in self._silent:
                by_entity.setdefault(self.rules[idx].entity, []).append(idx)
        alerts: list[Alert] = []
        for entity, idxs in by_entity.items():
            rows = frame.filter(pl.col(RULE_INDEX).is_in(idxs))
            alerts.extend(self._aggregate(rows, schema, entity))
        alerts.sort(key=lambda a: (a.rule_name, a.first_seen, str(sorted(a.entity.items()))))
        return alerts

    def _aggregate(
        self, rows: pl.DataFrame, schema: Schema, entity: tuple[str, ...] | None
    ) -> list[Alert]:
        if entity is None:
            present = [column(schema, f)[0] for f in DEFAULT_ENTITY]
            which = pl.lit(None, dtype=pl.String)
            for name, col in reversed(list(zip(DEFAULT_ENTITY, present, strict=True))):
                which = pl.when(col.is_not_null()).then(pl.lit(name)).otherwise(which)
            keys = [
                which.alias("__entity_field"),
                pl.coalesce([c.cast(pl.String) for c in present]).alias("__entity_value"),
            ]
        else:
            keys = [column(schema, f)[0].alias(f"__entity_{n}") for n, f in enumerate(entity)]
        ts = column(schema, F.TIMESTAMP)[0]
        count = column(schema, F.EVENT_COUNT)[0].cast(pl.Int64).fill_null(1)
        # The evidence's time as its JSON text, formatted for the whole column at once
        # (for UTC times, which every parser's batch has; else formatted when written).
        utc = schema.get(F.TIMESTAMP) == TIMESTAMP_DTYPE
        evidence = pl.struct(
            ts.alias("ts"),
            (iso_texts(ts) if utc else pl.lit(None, dtype=pl.String)).alias("iso"),
            column(schema, F.LOG_FILE_PATH)[0].cast(pl.String).alias("path"),
            column(schema, F.LOG_FILE_LINE)[0].cast(pl.Int64).alias("line"),
            column(schema, F.MESSAGE)[0].cast(pl.String).alias("message"),
        )
        agg = rows.group_by([pl.col(RULE_INDEX), *keys]).agg(
            count.sum().alias("__count"),
            ts.min().alias("__first"),
            ts.max().alias("__last"),
            evidence.sort_by(ts, nulls_last=True).head(self._max_evidence).alias("__evidence"),
        )
        out = []
        for row in agg.iter_rows(named=True):
            if entity is None:
                found = row["__entity_field"]
                ent = {found: row["__entity_value"]} if found is not None else {}
            else:
                ent = {f: row[f"__entity_{n}"] for n, f in enumerate(entity)}
            out.append(self._alert(self.rules[row[RULE_INDEX]], ent, row))
        return out

    def _alert(self, rule: CompiledRule, entity: dict[str, Any], row: dict[str, Any]) -> Alert:
        now = self._clock.now()
        first = row["__first"] if isinstance(row["__first"], datetime) else now
        last = row["__last"] if isinstance(row["__last"], datetime) else now
        evidence = tuple(
            Evidence(
                timestamp=e["ts"] if isinstance(e["ts"], datetime) else now,
                path=e["path"],
                line=e["line"],
                message=e["message"],
                iso=e["iso"],
            )
            for e in row["__evidence"]
        )
        return Alert(
            rule_id=rule.meta.id if rule.meta.id is not None else rule.key,
            rule_name=rule.name,
            title=rule.title,
            level=rule.level,
            entity=entity,
            count=int(row["__count"]),
            first_seen=first,
            last_seen=last,
            tags=rule.tags,
            evidence=evidence,
            author=rule.author or None,
        )


def _datasets(batch: pl.DataFrame) -> frozenset[str] | None:
    """Every event.dataset of the batch when they are few and none is null (a batch is
    mostly one file's events: one dataset), else None."""
    if batch.schema.get(F.EVENT_DATASET) != pl.String:
        return None
    values = batch.get_column(F.EVENT_DATASET)
    if values.null_count():
        return None
    distinct = values.unique()
    return frozenset(distinct.to_list()) if distinct.len() <= _DATASETS else None
