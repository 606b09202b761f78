"""`bench/parse.py`: figures per child process, and its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.parse import Run, _short, table, verdicts

ROOT = Path(__file__).resolve().parents[2]

# Run from a fresh, small interpreter: Linux carries a parent's RSS high-water mark into its
# children at exec, so the measuring process must stay small (as bench/parse.py does).
PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from bench.parse import measure
small = [sys.executable, "-c", "pass"]
big = [sys.executable, "-c", "b = b'x' * (200 << 20)"]
runs = [measure(name, cmd, 1)[0] for name, cmd in (("a", small), ("b", big), ("c", small))]
print(json.dumps([r.peak_rss_mb for r in runs]))
"""


def test_peak_rss_is_per_child_not_the_largest_child_so_far() -> None:
    """A small child measured after a 200 MB one reports its own peak, not the 200 MB."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        check=True,
    )
    before, big, after = json.loads(done.stdout)
    assert big >= 200
    assert after < 100
    assert before < 100


def test_table_and_ratios_come_from_the_runs() -> None:
    """Lines/s and lines/CPU-s, and the vigil/peer ratios, follow from the measured runs."""
    vigil = Run("vigil sshd", 1_000_000, wall_s=2.0, cpu_s=4.0, peak_rss_mb=300, exit_code=0)
    f2b = Run("fail2ban", 1_000_000, wall_s=40.0, cpu_s=40.0, peak_rss_mb=700, exit_code=0)
    assert "500,000" in table([vigil])
    big = Run("vigil sshd 5M", 5_000_000, wall_s=9.0, cpu_s=12.0, peak_rss_mb=350, exit_code=0)
    lines = verdicts({"sshd": vigil, "fail2ban": f2b}, big=[big])
    assert "target sshd: >= 1,000,000 lines/s wall -> 500,000 (NOT met; vigil sshd)" in lines
    rss = "target peak RSS on 5,000,000 sshd lines: < 400 MB -> 350 MB (met; vigil sshd 5M)"
    assert rss in lines
    assert "vigil/fail2ban-regex (sshd): 20.0x wall, 10.0x per CPU-second (target ~30x)" in lines


def test_file_names_use_short_sizes() -> None:
    """Sizes in file names read 1M, 5M, 100k; odd sizes stay as digits."""
    assert [_short(n) for n in (1_000_000, 5_000_000, 100_000, 1234)] == [
        "1M",
        "5M",
        "100k",
        "1234",
    ]
