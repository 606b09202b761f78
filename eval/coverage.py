"""The parse-coverage figures of one dataset, gathered from its inputs' results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest

from eval.manifest import Input, Manifest
from eval.runner import Example, InputResult, evaluate_input
from eval.understanding import CheckTally

EXAMPLES_PER_REASON = 3


@dataclass
class FormatStats:
    format: str
    inputs: int = 0
    lines: int = 0
    parsed: int = 0
    auto_parsed: int = 0
    sniffed_elsewhere: int = 0
    parser_missing: bool = False

    @property
    def rejected(self) -> int:
        return self.lines - self.parsed


@dataclass
class ReasonStats:
    format: str
    reason: str
    count: int
    # Rejected lines from as many different inputs as possible: one reason can hide
    # several causes, and different inputs tend to show them.
    examples: list[Example]


@dataclass
class ScopeStats:
    reason: str
    kinds: set[str] = field(default_factory=set)
    inputs: int = 0
    lines: int = 0
    # Lines some parser took as events anyway, by that parser's format.
    taken: Counter[str] = field(default_factory=Counter)


@dataclass
class CheckStats:
    """One understanding check over one format's inputs (see `understanding`)."""

    format: str
    check: str
    events: int = 0
    missed: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Example] = field(default_factory=dict)

    def add(self, inp: Input, tally: CheckTally) -> None:
        self.events += tally.events
        self.missed += tally.missed
        self.shapes.update(tally.shapes)
        for shape, (line, message) in tally.first.items():
            self.examples.setdefault(shape, Example(inp.origin_of(line), message))


@dataclass
class DatasetReport:
    dataset: str
    missing: bool = False
    results: list[InputResult] = field(default_factory=list)
    manifest: Manifest | None = None
    formats: dict[str, FormatStats] = field(default_factory=dict)
    reasons: list[ReasonStats] = field(default_factory=list)
    scopes: dict[str, ScopeStats] = field(default_factory=dict)
    checks: dict[tuple[str, str], CheckStats] = field(default_factory=dict)

    @property
    def measured(self) -> list[FormatStats]:
        return [f for f in self.formats.values() if not f.parser_missing]

    @property
    def in_scope(self) -> int:
        return sum(f.lines for f in self.measured)

    @property
    def parsed(self) -> int:
        return sum(f.parsed for f in self.measured)

    @property
    def waiting(self) -> int:
        """In-scope lines whose format has no parser registered yet."""
        return sum(f.lines for f in self.formats.values() if f.parser_missing)

    @property
    def out_of_scope(self) -> int:
        return sum(s.lines for s in self.scopes.values())

    @property
    def mismatches(self) -> list[InputResult]:
        return [r for r in self.results if r.sniff_mismatch]

    @property
    def errors(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for r in self.results:
            errors = [r.error] if r.error else [run.error for run in (r.forced, r.auto) if run]
            # The forced and the auto run often fail the same way: say it once.
            found.extend((r.input.label, e) for e in dict.fromkeys(errors) if e)
        return found


def measure(manifest: Manifest) -> DatasetReport:
    """Run every input of a manifest and gather the dataset's figures."""
    report = DatasetReport(manifest.dataset, manifest=manifest)
    per_input: dict[tuple[str, str], list[list[Example]]] = {}
    reason_counts: Counter[tuple[str, str]] = Counter()
    for inp in manifest.inputs:
        result = evaluate_input(inp)
        report.results.append(result)
        for reason, n in result.out_of_scope.items():
            scope = report.scopes.setdefault(reason, ScopeStats(reason))
            scope.kinds.add(inp.kind or "(none)")
            scope.inputs += 1
            scope.lines += n
            # A whole out-of-scope input runs with auto-detection only; a line rule's
            # lines run with the input's own format.
            run = result.auto if inp.expected is None else result.forced
            if run is not None and run.out_of_scope_taken[reason] and run.format:
                scope.taken[run.format] += run.out_of_scope_taken[reason]
        if inp.expected is None:
            continue
        stats = report.formats.setdefault(inp.expected, FormatStats(inp.expected))
        stats.inputs += 1
        stats.lines += result.in_scope
        stats.parser_missing = stats.parser_missing or result.parser_missing
        stats.parsed += result.parsed
        stats.auto_parsed += result.auto_parsed
        stats.sniffed_elsewhere += int(result.sniff_mismatch)
        if result.forced is not None:
            for name, tally in result.forced.understanding.items():
                key = (inp.expected, name)
                report.checks.setdefault(key, CheckStats(*key)).add(inp, tally)
            for reason, n in result.forced.rejected.items():
                key = (inp.expected, reason)
                reason_counts[key] += n
                per_input.setdefault(key, []).append(result.forced.examples[reason])
    report.reasons = [
        ReasonStats(fmt, reason, n, _spread(per_input[(fmt, reason)]))
        for (fmt, reason), n in sorted(reason_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return report


def _spread(per_input: list[list[Example]]) -> list[Example]:
    """Up to EXAMPLES_PER_REASON examples: the first of each input, then the seconds, ..."""
    ordered = [e for rank in zip_longest(*per_input) for e in rank if e is not None]
    return ordered[:EXAMPLES_PER_REASON]


def share(part: int, whole: int) -> str:
    """A percentage that never rounds a shortfall up to 100%."""
    if whole == 0:
        return "-"
    if part == whole:
        return "100%"
    return f"{int(10000 * part / whole) / 100:.2f}%"
