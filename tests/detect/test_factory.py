"""Building the rule pack from vigil.yaml: errors about rule settings point at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detect.test_rule_pack import RANGE_RULES
from vigil.config.loader import load_config
from vigil.config.models import VigilConfig
from vigil.detect.factory import rule_pack_from_config
from vigil.errors import ConfigError


def _config(tmp_path: Path, text: str) -> VigilConfig:
    rules = tmp_path / "range.yml"
    rules.write_text(RANGE_RULES)
    path = tmp_path / "vigil.yaml"
    path.write_text(f"rules:\n  default_pack: false\n  paths: [{rules}]\n{text}")
    return load_config(path)


def test_an_impossible_threshold_names_the_config_file_and_line(tmp_path: Path) -> None:
    """A threshold past the rule's upper bound is a config error at its line in vigil.yaml."""
    config = _config(tmp_path, "  overrides:\n    my_range:\n      threshold: 8\n")
    with pytest.raises(ConfigError, match=r"gte 8 and lt 7") as raised:
        rule_pack_from_config(config)
    assert str(raised.value.location) == f"{tmp_path / 'vigil.yaml'}:6:7"


def test_an_override_of_an_unknown_rule_names_its_line(tmp_path: Path) -> None:
    """An override naming no loaded correlation is located at its name."""
    config = _config(tmp_path, "  overrides:\n    nosuch: {threshold: 3}\n")
    with pytest.raises(
        ConfigError, match=r"rules\.overrides\.nosuch: no loaded correlation"
    ) as raised:
        rule_pack_from_config(config)
    assert str(raised.value.location) == f"{tmp_path / 'vigil.yaml'}:5:5"


def test_a_config_without_a_file_gives_the_error_unlocated() -> None:
    """Settings given in code (no file) still raise the error, without a place."""
    config = VigilConfig.model_validate(
        {"rules": {"default_pack": False, "overrides": {"nosuch": {"threshold": 3}}}}
    )
    with pytest.raises(ConfigError, match="nosuch") as raised:
        rule_pack_from_config(config)
    assert raised.value.location is None


def test_an_unknown_disabled_entry_names_its_line(tmp_path: Path) -> None:
    """A rules.disabled entry that names no loaded rule is a config error at its line."""
    config = _config(tmp_path, "  disabled:\n    - my_range\n    - my_rnage\n")
    with pytest.raises(ConfigError, match=r"rules\.disabled\.1: .*'my_rnage'") as raised:
        rule_pack_from_config(config)
    assert str(raised.value.location) == f"{tmp_path / 'vigil.yaml'}:6:7"
