from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """An isolated, empty state directory."""
    return tmp_path / "var"
