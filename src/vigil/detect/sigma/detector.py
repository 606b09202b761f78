"""The per-batch Sigma detector: compiled rules in, Alerts (and matching rows) out.

Rules are grouped by logsource. Per batch, each group filters the batch once (its
logsource's rows) and evaluates all its rules' expressions in one lazy `with_columns`,
so polars spreads the work over the cores and shares common sub-expressions; the
groups run together through `pl.collect_all`. The rows that match at least one rule
come back in one long frame (one row per event and matching rule), from which alerts
are one `group_by`.

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

import polars as pl

from vigil.alerts.model import MAX_EVIDENCE, Alert, Evidence, iso_texts
from vigil.clock import Clock, SystemClock
from vigil.detect.sigma.compiler import CompiledRule, FieldTest, per_value_tests, rule_key
from vigil.detect.sigma.mapping import Logsource, Schema, column
from vigil.detect.sigma.modifiers import Column, RegexMatch, StringMatch, field_test
from vigil.schema.fields import TIMESTAMP_DTYPE, F

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule

# The column of the match frame that says which rule (its index in `SigmaDetector.rules`).
RULE_INDEX = "__vigil_rule"
DEFAULT_ENTITY: tuple[str, ...] = (F.SOURCE_IP, F.USER_NAME, F.HOST_NAME)
_PLAN_CACHE = 64
# A field is answered per distinct value when at most this share of a sample of the
# batch's rows have distinct values and one of its tests has a pattern this long (see
# SigmaDetector._per_value_answers).
_REPEATED = 0.25
_SAMPLE_ROWS = 2048
_LONG_PATTERN = 200


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
        self._value_tests: dict[tuple[Any, ...], tuple[FieldTest, ...]] = {}

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
        return self.split(self.match_frame(batch, only))

    def process_with_matches(
        self, batch: pl.DataFrame
    ) -> tuple[list[Alert], dict[str, pl.DataFrame]]:
        """Alerts and per-rule matching rows from one evaluation of the batch."""
        frame = self.match_frame(batch)
        return self.alerts_from(frame, batch.schema), self.split(frame)

    def split(self, frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """A match frame cut into one frame per rule key."""
        if frame.is_empty():
            return {}
        parts = frame.partition_by(RULE_INDEX, as_dict=True, include_key=False)
        return {self.rules[int(idx[0])].key: part for idx, part in parts.items()}

    def match_frame(self, batch: pl.DataFrame, only: Collection[int] | None = None) -> pl.DataFrame:
        """The batch's rows that match, one per (event, matching rule), with `RULE_INDEX`."""
        schema = batch.schema
        chosen: list[tuple[_Group, list[tuple[int, CompiledRule]]]] = []
        for group in self._groups:
            members = [(i, r) for i, r in group.rules if only is None or i in only]
            if members:
                chosen.append((group, members))
        # Logsources whose rules search with long patterns are run only when the batch
        # has rows of them (a batch is one file's events): their tests are answered per
        # value below. Any other logsource without rows costs its filter alone.
        costly = [
            k
            for k, (_, members) in enumerate(chosen)
            if any(self._long_tests(r, schema) for _, r in members)
        ]
        if costly:
            present = batch.select(
                chosen[k][0].logsource.filter(schema).any().alias(str(k)) for k in costly
            ).row(0)
            absent = {k for k, here in zip(costly, present, strict=True) if not here}
            chosen = [c for k, c in enumerate(chosen) if k not in absent]
        if not chosen:
            return batch.clear().with_columns(pl.lit(None, dtype=pl.UInt32).alias(RULE_INDEX))
        given = self._per_value_answers(batch, chosen) if costly else {}
        queries: list[pl.LazyFrame] = []
        groups: list[list[tuple[int, str]]] = []
        for group, members in chosen:
            names = [f"__vigil_r{i}" for i, _ in members]
            queries.append(
                batch.lazy()
                .filter(group.logsource.filter(schema))
                .with_columns(self._plan(group, members, schema, given))
                .filter(pl.any_horizontal(names))
            )
            groups.append([(i, n) for (i, _), n in zip(members, names, strict=True)])
        # One filter per rule over the (few) flagged rows: an event matching two rules is
        # two rows. Measured 10x cheaper than a list column of rule indexes exploded.
        parts = [
            flagged.filter(pl.col(name))
            .drop([n for _, n in members])
            .with_columns(pl.lit(i, dtype=pl.UInt32).alias(RULE_INDEX))
            for flagged, members in zip(pl.collect_all(queries), groups, strict=True)
            for i, name in members
        ]
        return pl.concat(parts, how="vertical")

    def _per_value_answers(
        self, batch: pl.DataFrame, chosen: list[tuple[_Group, list[tuple[int, CompiledRule]]]]
    ) -> dict[FieldTest, pl.Expr]:
        """The rules' costly text tests, answered once per distinct value of their column
        and looked up per row.

        The fields rules search with long patterns (URLs, user agents) repeat a lot: on an
        access log the web rules' regexes then run on ~1% of the rows, and the lookup of
        a row among the matching values costs a few nanoseconds. Measured per row: a
        short pattern (`(?i)^(?:ssh_login)$`) costs ~15 ns, a long one (200 to 9,000
        characters) 40-200 ns, the distinct values ~10-40 ns and a lookup ~5-10 ns; so
        a field is answered per value when a long pattern searches it and its values
        repeat, which a sample of the batch's first rows tells (messages mostly do not)."""
        schema = batch.schema
        by_field: dict[str, dict[FieldTest, None]] = {}
        sources: dict[str, dict[str, Logsource]] = {}
        for group, members in chosen:
            for _, rule in members:
                for test in self._tests_of(rule, schema):
                    by_field.setdefault(test.field, {})[test] = None
                    sources.setdefault(test.field, {})[group.logsource.name] = group.logsource
        heavy = [
            f for f, tests in by_field.items() if max(map(_pattern_length, tests)) >= _LONG_PATTERN
        ]
        if not heavy:
            return {}
        rows_of = {
            f: pl.any_horizontal([ls.filter(schema) for ls in sources[f].values()]) for f in heavy
        }
        columns = {f: column(schema, f)[0] for f in heavy}
        shares = (
            batch.head(_SAMPLE_ROWS)
            .select(
                (columns[f].filter(rows_of[f]).n_unique() / rows_of[f].sum().clip(1)).alias(f)
                for f in heavy
            )
            .row(0)
        )
        given: dict[FieldTest, pl.Expr] = {}
        value = Column(pl.col("v"), pl.String(), schema)
        for field, share in zip(heavy, shares, strict=True):
            if share > _REPEATED:
                continue
            col = columns[field]
            # Eager: the lazy engine's unique costs twice as much on one column.
            texts = batch.select(col.filter(rows_of[field]).unique().alias("v")).drop_nulls()
            tests = list(by_field[field])
            flags = texts.select(
                field_test(t.matcher, value).fill_null(False).alias(str(k))
                for k, t in enumerate(tests)
            )
            for k, test in enumerate(tests):
                hits = texts.get_column("v").filter(flags.get_column(str(k)))
                given[test] = (
                    col.is_in(pl.lit(hits).implode()).fill_null(False)
                    if hits.len()
                    else pl.lit(False)
                )
        return given

    def _long_tests(self, rule: CompiledRule, schema: Schema) -> bool:
        return any(_pattern_length(t) >= _LONG_PATTERN for t in self._tests_of(rule, schema))

    def _tests_of(self, rule: CompiledRule, schema: Schema) -> tuple[FieldTest, ...]:
        key = (rule.key, tuple(schema.items()))
        tests = self._value_tests.get(key)
        if tests is None:
            if len(self._value_tests) >= _PLAN_CACHE * 16:
                self._value_tests.clear()
            tests = tuple(dict.fromkeys(per_value_tests(rule.condition, schema)))
            self._value_tests[key] = tests
        return tests

    def _plan(
        self,
        group: _Group,
        members: list[tuple[int, CompiledRule]],
        schema: Schema,
        given: Mapping[FieldTest, pl.Expr],
    ) -> list[pl.Expr]:
        if any(t in given for _, r in members for t in self._tests_of(r, schema)):
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


def _pattern_length(test: FieldTest) -> int:
    """The length of the regex a field test searches with (0 when it is no regex)."""
    matcher = test.matcher
    if isinstance(matcher, RegexMatch):
        return len(matcher.pattern)
    if isinstance(matcher, StringMatch) and matcher.uses_regex():
        return len(matcher.regex())
    return 0
