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
            (stamp, stamp, command, report.lines, report.events, report.rejected),
        )
        run_id = int(cur.lastrowid or 0)
        cur.executemany(
            "INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    f.path,
                    f.format,
                    f.lines,
                    f.events,
                    f.rejected,
                    f.first_event.isoformat() if f.first_event else None,
                    f.last_event.isoformat() if f.last_event else None,
                    f.error,
                )
                for f in report.files
            ],
        )
    return run_id
