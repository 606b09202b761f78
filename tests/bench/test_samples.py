"""The bundled `samples/`: reproducible byte for byte, small, and showing every attack the
README promises (checked against their truth files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
TRUTH = ROOT / "bench" / "samples" / "truth"


def _truth(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TRUTH / f"{name}.truth.json").read_text())
    return data


def test_generate_script_reproduces_the_committed_samples() -> None:
    """`python bench/samples/generate.py --check` finds every sample identical to a fresh run."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "samples" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_samples_stay_under_one_megabyte() -> None:
    """The three logs and their truth files together stay below 1 MB."""
    files = [*SAMPLES.glob("*.log"), *TRUTH.glob("*.json")]
    assert len(files) == 6
    assert sum(f.stat().st_size for f in files) < 1_000_000


def test_samples_show_the_promised_attacks() -> None:
    """Brute force (incl. IPv6, spray, 5-in-9-min), web attacks of every kind, floods and scans."""
    auth = _truth("auth")
    classes = {a["class"] for a in auth["actors"] if a["must_ban"]}
    assert {"burst", "burst_v6", "spray", "exact5"} <= classes
    assert not any(a["must_ban"] for a in auth["actors"] if a["class"] in ("slow", "near4"))
    access = _truth("access")
    assert set(access["by_kind"]) >= {"scanner", "sqli", "xss", "traversal", "cmdi", "log4shell"}
    assert all(access["bursts"][code] for code in ("404", "401", "403"))
    firewall = _truth("firewall")
    assert len(firewall["flood"]) == 2
    assert firewall["vertical_scan"]
    assert firewall["horizontal_scan"]
