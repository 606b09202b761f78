from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state directory and no operator config, so no test writes
    into the checkout's var/ or reads a vigil.yaml lying around."""
    state = tmp_path / "var"
    monkeypatch.setenv("VIGIL_STATE_DIR", str(state))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    return state


@pytest.fixture
def state_dir(isolated_state: Path) -> Path:
    """An isolated, empty state directory."""
    return isolated_state
