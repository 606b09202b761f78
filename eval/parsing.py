"""`make eval` part 1: parse coverage of vigil's parsers over the public datasets.

For each dataset, every raw log line is either in scope (a vigil format must parse it)
or out of scope with a stated reason (see the manifests). The figures: the share of
in-scope lines that parse with the expected format forced, the reject reasons with an
example line each, the inputs where auto-detection picks another format, and the
out-of-scope formats with how many of their lines some parser took anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eval.base import EvalContext, EvalResult
from eval.coverage import DatasetReport, measure
from eval.crowdsec import crowdsec_hub_tests
from eval.manifest import Manifest, elastic_examples, loghub
from eval.parsing_report import render_dataset, render_summary, to_json
from eval.wazuh import wazuh_ruleset_tests

NAME = "parsing"

# Dataset folder → manifest builder (folder path, scratch directory).
DATASETS: tuple[tuple[str, Callable[[Path, Path], Manifest]], ...] = (
    ("crowdsec_hub_tests", lambda root, _work: crowdsec_hub_tests(root)),
    ("wazuh_ruleset_tests", wazuh_ruleset_tests),
    ("loghub", lambda root, _work: loghub(root)),
    ("elastic_examples", lambda root, _work: elastic_examples(root)),
)


def evaluate(ctx: EvalContext) -> EvalResult:
    reports: list[DatasetReport] = []
    for folder, build in DATASETS:
        root = ctx.datasets / folder
        if not root.is_dir():
            report = DatasetReport(folder, missing=True)
        else:
            report = measure(build(root, ctx.workdir))
        reports.append(report)
        render_dataset(ctx.console, report, verbose=ctx.verbose)
    summary = render_summary(ctx.console, reports)
    status = "skipped" if all(r.missing for r in reports) else "ok"
    return EvalResult(NAME, status, summary, to_json(reports))
