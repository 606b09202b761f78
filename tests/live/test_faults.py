"""`vigil run` as a process on a bad night: killed with SIGKILL in the middle of a batch,
stopped with SIGTERM, sent SIGHUP with a broken configuration, fed a burst of a million
lines, and left with a full disk under its state database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.support import (
    attack,
    attack_log,
    attacker,
    brute_force_rows,
    checkpoint_line,
    config,
    duplicates,
    query,
    vigil_run,
    wait_for,
    write,
)
from tests.notify.receivers import free_port

# Peak resident memory allowed while a million lines arrive at once (measured: ~320 MB).
RSS_LIMIT_MB = 600


def metric(port: int, name: str) -> float:
    """A metric's value summed over its labels, from /metrics (0 while not answering)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def peak_rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM in /proc status")


def file_source(log: Path) -> dict[str, object]:
    return {"auth": {"type": "file", "paths": [str(log)], "start_at": "beginning"}}


def test_kill_during_a_batch_and_during_the_replay_alerts_exactly_once(tmp_path: Path) -> None:
    """SIGKILL while batches are being committed, SIGKILL again while the restart re-reads
    committed lines, then a restart to the end: every planted attacker has exactly one
    brute-force alert, and no alert is stored twice."""
    log, state = tmp_path / "auth.log", tmp_path / "var"
    lines, attackers = 150_000, 100
    write(log, attack_log(lines, attackers))
    port = free_port()
    cfg = config(
        tmp_path / "vigil.yaml", file_source(log), batch_lines=1000, metrics=f"127.0.0.1:{port}"
    )
    db = state / "vigil.db"
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: checkpoint_line(db) > 30_000, timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    killed_at = checkpoint_line(db)
    assert killed_at < lines  # it died half way
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: metric(port, "vigil_replayed_lines_total") > 0, timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert checkpoint_line(db) == killed_at  # re-reading moved no checkpoint
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: checkpoint_line(db) == lines + 1, timeout=90)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert brute_force_rows(db) == sorted(attacker(a) for a in range(attackers))
    assert duplicates(db) == []


def test_kill_after_a_rotation_rebuilds_windows_from_both_files(tmp_path: Path) -> None:
    """Three failures, a rename rotation, one failure in the new file, SIGKILL, a restart,
    two more failures: the restart re-read the rotated file too, so the six failures
    make one brute-force alert."""
    log, state = tmp_path / "auth.log", tmp_path / "var"
    write(log, attack_log(100, 0))
    cfg = config(tmp_path / "vigil.yaml", file_source(log))
    db = state / "vigil.db"
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: checkpoint_line(db) == 101)
        write(log, attack(attacker(20), 3), "a")
        wait_for(lambda: checkpoint_line(db) == 104)  # read before the rotation
        os.rename(log, tmp_path / "auth.log.1")
        write(log, attack(attacker(20), 1))
        rows = "SELECT path, line FROM checkpoints ORDER BY path"
        wait_for(lambda: query(db, rows) == [(str(log), 2), (f"{log}.1", 104)])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert brute_force_rows(db) == []
    with vigil_run(state, cfg) as proc:
        write(log, attack(attacker(20), 2), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(20)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_sigterm_finishes_commits_and_exits_zero(tmp_path: Path) -> None:
    """SIGTERM: the lines read are processed, the checkpoint reaches the end of the
    file, the status says stopped, and the exit code is 0."""
    log, state = tmp_path / "auth.log", tmp_path / "var"
    write(log, attack_log(2000, 3))
    cfg = config(tmp_path / "vigil.yaml", file_source(log))
    db = state / "vigil.db"
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: len(brute_force_rows(db)) == 3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert checkpoint_line(db) == 2001
    (status,) = query(db, "SELECT value FROM live_state WHERE key = 'status'")
    assert '"state": "stopped"' in status[0]


def test_sighup_with_a_broken_config_keeps_running(tmp_path: Path) -> None:
    """SIGHUP after the configuration file was broken: the error is logged, the daemon
    goes on with the configuration it had, and still detects."""
    log, state, err = tmp_path / "auth.log", tmp_path / "var", tmp_path / "stderr.log"
    write(log, attack_log(100, 0))
    cfg = config(tmp_path / "vigil.yaml", file_source(log))
    db = state / "vigil.db"
    with vigil_run(state, cfg, stderr=err) as proc:
        wait_for(lambda: checkpoint_line(db) == 101)
        cfg.write_text("sources: {auth: {type: file, paths: oops: [}\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in err.read_text())
        assert proc.poll() is None
        write(log, attack(attacker(7)), "a")
        assert wait_for(lambda: brute_force_rows(db)) == [attacker(7)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "invalid YAML" in err.read_text()


def test_a_million_line_burst_keeps_memory_bounded(tmp_path: Path) -> None:
    """A million lines at once are read under back-pressure: peak RSS stays bounded."""
    log, state = tmp_path / "auth.log", tmp_path / "var"
    write(log, attack_log(1_000_000, 50))
    cfg = config(tmp_path / "vigil.yaml", file_source(log))
    db = state / "vigil.db"
    with vigil_run(state, cfg) as proc:
        wait_for(lambda: checkpoint_line(db) == 1_000_001, timeout=240, every=0.2)
        peak = peak_rss_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert peak < RSS_LIMIT_MB
    assert len(brute_force_rows(db)) == 50


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, unmounted at the end whatever happens."""
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_full_disk_stops_clearly_and_leaves_a_sound_database(
    tmp_path: Path, small_disk: Path
) -> None:
    """The state database fills its disk: vigil stops with a one-line error (exit 1);
    once there is room the database checks sound, and a restart finishes the file
    with every attacker alerted exactly once."""
    log, err = tmp_path / "auth.log", tmp_path / "stderr.log"
    attackers = 500
    write(log, attack_log(30_000, attackers))
    cfg = config(tmp_path / "vigil.yaml", file_source(log))
    db = small_disk / "vigil.db"
    with vigil_run(small_disk, cfg, stderr=err) as proc:
        assert proc.wait(90) == 1
    message = err.read_text()
    assert "cannot write the state database" in message
    assert "full" in message
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with vigil_run(small_disk, cfg) as proc:
        wait_for(lambda: checkpoint_line(db) == 30_001, timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert brute_force_rows(db) == sorted(attacker(a) for a in range(attackers))
    assert duplicates(db) == []
