"""Costly text tests answered once per distinct value, and remembered across batches.

The fields rules search with long patterns (URLs, user agents) repeat a lot: on an
access log the web rules' regexes then run on ~1% of the rows, and the lookup of a row
among the matching values costs a few nanoseconds. Measured per row: a short pattern
(`(?i)^(?:ssh_login)$`) costs ~11-20 ns, a long one (200 to 9,000 characters) 40-200
ns, the distinct values ~10-40 ns and a lookup ~5-10 ns; so a field is answered per
value when a long pattern searches it and its values repeat, or when several short
tests search a field of a handful of values (sshd's event.action: 14 values, 4 tests),
which a sample of the batch's first rows tells (messages mostly do not).

The values also repeat from one batch to the next (a site's pages, its clients' user
agents): of ~1,000 distinct URLs per 40k-line batch of an access log, 30-100 are new
once the first batches have been read. So the answers are kept, per field and set of
tests, and only values not seen before are tested; the memory is bounded by
`MAX_KNOWN` values per field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from vigil.detect.sigma.compiler import CompiledRule, FieldTest, per_value_tests
from vigil.detect.sigma.mapping import Logsource, Schema, column, one_of
from vigil.detect.sigma.modifiers import Column, RegexMatch, StringMatch, field_test

# A field is answered per distinct value when at most this share of a sample of the
# batch's rows have distinct values and one of its tests has a pattern this long...
REPEATED = 0.25
SAMPLE_ROWS = 2048
LONG_PATTERN = 200
# ... or when it has this many tests and at most this share of distinct values.
MANY_TESTS = 2
FEW_VALUES = 0.01
# Distinct values remembered per field; past it, only the last batch's are kept.
MAX_KNOWN = 100_000
_CACHE = 1024
# Matching values compared one by one rather than looked up (see mapping.one_of).
_FEW_HITS = 3
# Batches appended to the known answers before they are put in one piece again.
_CHUNKS = 16
_VALUE = "v"


class PerValueAnswers:
    """The answers of the per-value tests of a detector's rules, batch after batch."""

    def __init__(self) -> None:
        self._tests: dict[tuple[Any, ...], tuple[FieldTest, ...]] = {}
        # Per (field, its tests): every value tested so far and one flag per test.
        self._known: dict[tuple[str, tuple[FieldTest, ...]], pl.DataFrame] = {}

    def tests_of(self, rule: CompiledRule, schema: Schema) -> tuple[FieldTest, ...]:
        """The rule's tests that could be answered per value in a batch of this schema."""
        key = (rule.key, tuple(schema.items()))
        tests = self._tests.get(key)
        if tests is None:
            if len(self._tests) >= _CACHE:
                self._tests.clear()
            tests = tuple(dict.fromkeys(per_value_tests(rule.condition, schema)))
            self._tests[key] = tests
        return tests

    def has_long_tests(self, rule: CompiledRule, schema: Schema) -> bool:
        return any(pattern_length(t) >= LONG_PATTERN for t in self.tests_of(rule, schema))

    def answers(
        self, batch: pl.DataFrame, groups: Sequence[tuple[Logsource, Sequence[CompiledRule]]]
    ) -> dict[FieldTest, pl.Expr]:
        """For the costly tests of these rules on this batch, an expression each that
        looks the row's value up among the values that pass (see the module's text)."""
        schema = batch.schema
        by_field: dict[str, dict[FieldTest, None]] = {}
        sources: dict[str, dict[str, Logsource]] = {}
        for logsource, rules in groups:
            for rule in rules:
                for test in self.tests_of(rule, schema):
                    by_field.setdefault(test.field, {})[test] = None
                    sources.setdefault(test.field, {})[logsource.name] = logsource
        limits = {f: _share_limit(tuple(tests)) for f, tests in by_field.items()}
        heavy = [f for f, limit in limits.items() if limit > 0]
        if not heavy:
            return {}
        rows_of = {
            f: pl.any_horizontal([ls.filter(schema) for ls in sources[f].values()]) for f in heavy
        }
        columns = {f: column(schema, f)[0] for f in heavy}
        # A sample without rows of a field's logsources tells nothing: a long pattern is
        # answered per value all the same (its rows cost the most), short ones are not.
        shares = (
            batch.head(SAMPLE_ROWS)
            .select(
                pl.when(rows_of[f].sum() > 0)
                .then(columns[f].filter(rows_of[f]).n_unique() / rows_of[f].sum())
                .otherwise(0.0 if limits[f] == REPEATED else 1.0)
                .alias(f)
                for f in heavy
            )
            .row(0)
        )
        repeated = [f for f, share in zip(heavy, shares, strict=True) if share <= limits[f]]
        if not repeated:
            return {}
        # Every field's distinct values in one pass (eager: the lazy engine's unique
        # costs twice as much on one column). Over all rows: values of other sources'
        # rows are answered too, which is harmless, and filtering first costs as much
        # as the unique itself.
        distinct = batch.select(columns[f].unique().implode().alias(f) for f in repeated)
        given: dict[FieldTest, pl.Expr] = {}
        for field in repeated:
            texts = distinct.get_column(field).explode().drop_nulls().alias(_VALUE).to_frame()
            tests = tuple(by_field[field])
            known = self._known_answers(field, tests, texts, schema)
            for k, test in enumerate(tests):
                # Values of earlier batches may be among the hits: a row's value is
                # still among them exactly when it passes the test.
                hits = known.get_column(_VALUE).filter(known.get_column(str(k)))
                given[test] = (
                    one_of(columns[field], hits.to_list()).fill_null(False)
                    if hits.len() <= _FEW_HITS
                    else columns[field].is_in(pl.lit(hits).implode()).fill_null(False)
                )
        return given

    def _known_answers(
        self, field: str, tests: tuple[FieldTest, ...], texts: pl.DataFrame, schema: Schema
    ) -> pl.DataFrame:
        """Answers for at least every value of `texts`, testing only values not seen."""
        key = (field, tests)
        known = self._known.get(key)
        if known is not None:
            new = texts.join(known.select(_VALUE), on=_VALUE, how="anti")
            if not new.height:
                return known
        else:
            new = texts
        value = Column(pl.col(_VALUE), pl.String(), schema)
        answered = new.select(
            pl.col(_VALUE),
            *(
                field_test(t.matcher, value).fill_null(False).alias(str(k))
                for k, t in enumerate(tests)
            ),
        )
        if known is None:
            known = answered
        else:
            if known.height + answered.height > MAX_KNOWN:
                known = known.join(texts, on=_VALUE, how="semi")
            known = pl.concat([known, answered])
            if known.n_chunks() > _CHUNKS:
                known = known.rechunk()
        if len(self._known) >= _CACHE:
            self._known.clear()
        self._known[key] = known
        return known


def _share_limit(tests: tuple[FieldTest, ...]) -> float:
    """The largest share of distinct values at which a field's tests are answered per
    value (0: never)."""
    if max(map(pattern_length, tests)) >= LONG_PATTERN:
        return REPEATED
    if len(tests) >= MANY_TESTS:
        return FEW_VALUES
    return 0.0


def pattern_length(test: FieldTest) -> int:
    """The length of the regex a field test searches with (0 when it is no regex)."""
    matcher = test.matcher
    if isinstance(matcher, RegexMatch):
        return len(matcher.pattern)
    if isinstance(matcher, StringMatch) and matcher.uses_regex():
        return len(matcher.regex())
    return 0
