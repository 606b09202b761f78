"""The `runs` log: one row per analysis, with its per-input figures."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.pipeline.report import AnalysisReport
from vigil.store.db import StateDB


def record_run(
    db: StateDB, command: str, report: AnalysisReport, now: datetime | None = None
) -> int:
    stamp = (now or datetime.now(UTC)).isoformat()
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO runs (started_at, finished_at, command, lines, events, rejected)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (stamp, stamp, _text(command), report.lines, report.events, report.rejected),
        )
        run_id = int(cur.lastrowid or 0)
        cur.executemany(
            "INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    _text(f.path),
                    f.format,
                    f.lines,
                    f.events,
                    f.rejected,
                    f.first_event.isoformat() if f.first_event else None,
                    f.last_event.isoformat() if f.last_event else None,
                    _text(f.error) if f.error else None,
                )
                for f in report.files
            ],
        )
    return run_id


def _text(value: str) -> str:
    """A path as SQLite can store it: bytes of a file name that are not UTF-8 (which
    Python holds as lone surrogates) written as `\\xNN`."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
