"""Run the real `analyze` pipeline over one manifest input and account for every line.

Each input runs twice: once with its expected format forced (the coverage figure) and
once with auto-detection (does sniffing pick the expected format?). Rejects come back
through the pipeline's own `RejectWriter` and are matched by line number against the
harness's own reading of the file, which says which lines are blank and which are out
of scope, so a reject is only counted against a parser when the line is in its format.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from eval.manifest import Input
from eval.understanding import CheckTally, Understanding
from vigil.errors import SourceError
from vigil.parsers.registry import PARSERS
from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.sinks import RejectWriter
from vigil.sources.files import LineReader

LINE_NO = "line_no"
TEXT = "text"
SCOPE = "scope"  # null: in scope; otherwise the reason the line is out of scope
EXAMPLES = 3
REJECT_SCHEMA = {"file": pl.String, "line": pl.UInt64, "reason": pl.String, TEXT: pl.String}


@dataclass(frozen=True)
class Example:
    origin: str
    text: str


@dataclass
class Run:
    """One pass of the pipeline over an input (forced format or auto-detected)."""

    format: str | None
    # Rejected in-scope lines by reason, with the first example of each.
    rejected: Counter[str] = field(default_factory=Counter)
    # The first few rejected lines of each reason.
    examples: dict[str, list[Example]] = field(default_factory=dict)
    # Checks on the events of the parsed in-scope lines (forced runs only), by check name.
    understanding: dict[str, CheckTally] = field(default_factory=dict)
    # Out-of-scope lines this run did NOT reject (a parser took them as events), by reason.
    out_of_scope_taken: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass
class InputResult:
    input: Input
    lines: int = 0
    blank: int = 0
    in_scope: int = 0
    out_of_scope: Counter[str] = field(default_factory=Counter)
    forced: Run | None = None
    auto: Run | None = None
    # Set when the input could not be evaluated at all (unreadable, expected parser absent).
    error: str | None = None
    parser_missing: bool = False

    @property
    def parsed(self) -> int:
        """In-scope lines the forced parser did not reject."""
        if self.forced is None:
            return 0
        return self.in_scope - self.forced.rejected_total

    @property
    def auto_parsed(self) -> int:
        if self.auto is None:
            return 0
        return self.in_scope - self.auto.rejected_total

    @property
    def sniff_mismatch(self) -> bool:
        expected = self.input.expected
        return (
            expected is not None
            and not self.parser_missing
            and self.auto is not None
            and self.auto.error is None
            and self.auto.format != expected
        )


def evaluate_input(inp: Input) -> InputResult:
    result = InputResult(inp)
    try:
        lines = classify_lines(inp)
    except SourceError as e:
        result.error = str(e)
        return result
    result.lines = lines.height
    # The pipeline skips blank lines whatever the format: they count for no one.
    blank = lines.get_column(TEXT).str.contains(r"^\s*$")
    result.blank = int(blank.sum())
    lines = lines.filter(~blank)
    scopes = lines.get_column(SCOPE)
    result.in_scope = int(scopes.is_null().sum())
    result.out_of_scope.update(dict(scopes.drop_nulls().value_counts().rows()))
    if inp.expected is not None:
        if inp.expected in PARSERS:
            result.forced = _run(inp, lines, result.lines, inp.expected)
        else:
            result.parser_missing = True
    result.auto = _run(inp, lines, result.lines, None)
    return result


def classify_lines(inp: Input) -> pl.DataFrame:
    """Every line of the input, numbered as the pipeline numbers them, with its scope."""
    frames: list[pl.DataFrame] = []
    with LineReader(str(inp.path)) as reader:
        for chunk in reader.chunks():
            frames.append(
                chunk.frame().select(
                    pl.col("log.file.line").alias(LINE_NO), pl.col("line").alias(TEXT)
                )
            )
    lines = pl.concat(
        [pl.DataFrame(schema={LINE_NO: pl.UInt64, TEXT: pl.String}), *frames], how="vertical"
    )
    if inp.out_of_scope is not None:
        scope = pl.lit(inp.out_of_scope, dtype=pl.String)
    else:
        scope = pl.lit(None, dtype=pl.String)
        for rule in reversed(inp.line_rules):  # built inside out, so the first rule wins
            matches = pl.col(TEXT).str.contains(rule.pattern)
            scope = pl.when(matches).then(pl.lit(rule.reason)).otherwise(scope)
    return lines.with_columns(scope.alias(SCOPE))


def _run(inp: Input, lines: pl.DataFrame, total: int, fmt: str | None) -> Run:
    """One pipeline pass; `lines` are the input's non-blank lines with their scope, out of
    `total` lines in the file."""
    out = io.BytesIO()
    checks = Understanding(inp)
    sinks = [checks] if fmt is not None else []
    # A parser that raises is the input's error (analyze goes on with the others): a
    # finding about that parser, reported with its lines lost, not the end of the eval.
    report = analyze(
        [str(inp.path)], AnalyzeOptions(format=fmt), sinks=sinks, rejects=RejectWriter(out)
    )
    file_report = report.files[0]
    run = Run(format=file_report.format, error=file_report.error)
    run.understanding = checks.tallies
    if run.error is not None:
        return _all_lost(inp, lines, run, f"input not read: {run.error}")
    rejects = (
        pl.read_ndjson(out.getvalue(), schema=REJECT_SCHEMA)
        if out.tell()
        else pl.DataFrame(schema=REJECT_SCHEMA)
    )
    if file_report.lines != total:
        run.error = f"the pipeline read {file_report.lines} lines, the harness {total}"
    elif rejects.get_column("line").is_duplicated().any():
        run.error = "the pipeline rejected some lines more than once"
    joined = lines.join(
        rejects.unique("line", keep="first", maintain_order=True).select("line", "reason"),
        left_on=LINE_NO,
        right_on="line",
        how="left",
    ).sort(LINE_NO)
    rejected = joined.filter(pl.col(SCOPE).is_null() & pl.col("reason").is_not_null())
    run.rejected.update(dict(rejected.get_column("reason").value_counts().rows()))
    # One example per reason: a loop over the few distinct reasons, not over lines.
    for reason in run.rejected:
        first = rejected.filter(pl.col("reason") == reason).head(EXAMPLES)
        run.examples[reason] = [_example(inp, row) for row in first.iter_rows(named=True)]
    taken = joined.filter(pl.col(SCOPE).is_not_null() & pl.col("reason").is_null())
    run.out_of_scope_taken.update(dict(taken.get_column(SCOPE).value_counts().rows()))
    return run


def _all_lost(inp: Input, lines: pl.DataFrame, run: Run, reason: str) -> Run:
    """Count every in-scope line as rejected for `reason` (the run produced nothing)."""
    in_scope = lines.filter(pl.col(SCOPE).is_null())
    if in_scope.height:
        run.rejected[reason] = in_scope.height
        run.examples[reason] = [_example(inp, in_scope.row(0, named=True))]
    return run


def _example(inp: Input, row: dict[str, object]) -> Example:
    line_no = row[LINE_NO]
    assert isinstance(line_no, int)
    return Example(inp.origin_of(line_no), str(row[TEXT]))
