"""The runs log (store.runs)."""

from __future__ import annotations

from pathlib import Path

from vigil.pipeline.report import AnalysisReport, FileReport
from vigil.store.db import StateDB
from vigil.store.runs import record_run


def test_a_file_name_that_is_not_utf8_is_recorded(tmp_path: Path) -> None:
    """A name with bytes that are not UTF-8 (held by Python as lone surrogates) is
    stored with those bytes written as \\xNN instead of failing the run."""
    name = "/logs/bad\udcffname.log"
    report = AnalysisReport(files=[FileReport(path=name, error=f"{name}: looks binary")])
    db = StateDB.in_state_dir(tmp_path)
    run = record_run(db, f"analyze {name}", report)
    with db.transaction() as cur:
        command = cur.execute("SELECT command FROM runs WHERE id = ?", (run,)).fetchone()[0]
        path, error = cur.execute("SELECT path, error FROM run_inputs").fetchone()
    db.close()
    assert command == "analyze /logs/bad\\xffname.log"
    assert (path, error) == ("/logs/bad\\xffname.log", "/logs/bad\\xffname.log: looks binary")
