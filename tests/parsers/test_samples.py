"""Every parser against its golden samples, and every parser pattern has a sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.samples import SAMPLES, load_sample, normalise, sample_files
from vigil.parsers.base import LINE, REASON, ParseContext
from vigil.parsers.registry import PARSERS
from vigil.pipeline.chunks import parse_lines
from vigil.schema.fields import F

ALL_SAMPLES = sample_files()


def _context(path: Path, raw: dict[str, object]) -> ParseContext:
    mtime = raw.get("mtime")
    return ParseContext(
        origin=str(path),
        mtime=datetime.fromisoformat(str(mtime)) if mtime else None,
        year=raw.get("year"),  # type: ignore[arg-type]
        tz=str(raw.get("tz", "UTC")),
        now=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        options=raw.get("options", {}),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_sample_file(path: Path) -> None:
    """Each annotated line parses to exactly the fields, reject or skip its annotation says."""
    sample = load_sample(path)
    parser = PARSERS[path.relative_to(SAMPLES).parts[0]](_context(path, sample.context))
    frame = pl.DataFrame(
        {
            LINE: sample.lines,
            F.LOG_FILE_LINE: pl.int_range(1, len(sample.lines) + 1, dtype=pl.UInt64, eager=True),
        }
    )
    result = parse_lines(parser, frame)
    events = {row[F.LOG_FILE_LINE]: row for row in result.events.iter_rows(named=True)}
    rejects = dict(zip(result.rejects[F.LOG_FILE_LINE], result.rejects[REASON], strict=True))
    problems: list[str] = []
    skipped = 0
    for i, exp in enumerate(sample.expectations):
        n = i + 1
        where = sample.where(i)
        if exp.kind == "expect":
            if n not in events:
                problems.append(f"{where}: expected an event, got reject {rejects.get(n)!r}")
                continue
            for field, want in exp.detail.items():
                got = normalise(events[n].get(field))
                if got != want:
                    problems.append(f"{where}: {field} = {got!r}, expected {want!r}")
        elif exp.kind == "reject":
            if n not in rejects:
                problems.append(
                    f"{where}: expected a reject, got {'an event' if n in events else 'a skip'}"
                )
            elif exp.detail and exp.detail not in rejects[n]:
                problems.append(f"{where}: reject reason {rejects[n]!r} lacks {exp.detail!r}")
        else:
            skipped += 1
            if n in events or n in rejects:
                problems.append(
                    f"{where}: expected a skip, got {'an event' if n in events else 'a reject'}"
                )
    assert not problems, "\n".join(problems)
    assert result.skipped == skipped, (
        f"{path}: {result.skipped} lines skipped, annotations say {skipped}"
    )


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_pattern_has_a_positive_sample(name: str) -> None:
    """A parser pattern without a sample line it accepts is untested: fail (fail2ban's rule)."""
    files = sample_files(name)
    assert files, f"parser {name!r} has no samples under tests/data/samples/{name}/"
    lines: list[str] = []
    for path in files:
        sample = load_sample(path)
        lines += [
            ln
            for ln, e in zip(sample.lines, sample.expectations, strict=True)
            if e.kind != "reject"
        ]
    column = pl.Series(lines, dtype=pl.String)
    missing = [
        pid for pid, rx in PARSERS[name].patterns.items() if not column.str.contains(rx).any()
    ]
    assert not missing, f"patterns of {name!r} with no positive sample: {missing}"


@pytest.mark.parametrize("name", sorted(n for n, c in PARSERS.items() if c.sniff_requires))
def test_sniff_requirement_is_necessary_on_every_sample(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser's `sniff_requires` is a necessary condition: on the lines of any sample
    (of any format) that lack it, the parser's full sniff scores 0, so the shortcut
    never passes over a file the parser would claim."""
    cls = PARSERS[name]
    required = cls.sniff_requires
    assert required is not None
    monkeypatch.setattr(cls, "sniff_requires", None)
    claimed: list[str] = []
    for path in ALL_SAMPLES:
        sample = load_sample(path)
        lines = pl.Series(LINE, sample.lines, dtype=pl.String)
        lacking = lines.filter(~lines.str.contains(required) & lines.str.contains(r"\S"))
        frame = pl.DataFrame(
            {
                LINE: lacking,
                F.LOG_FILE_LINE: pl.int_range(1, lacking.len() + 1, dtype=pl.UInt64, eager=True),
            }
        )
        if cls.sniff(frame, _context(path, sample.context)) > 0:
            claimed.append(str(path.relative_to(SAMPLES)))
    assert not claimed, f"{name} claims lines without {required!r} in {claimed}"
