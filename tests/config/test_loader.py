"""Loading vigil.yaml: defaults, parser options, and errors that name file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config.loader import load_config
from vigil.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_defaults() -> None:
    """Without a config file vigil runs on its defaults."""
    assert load_config(None).timezone == "UTC"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    """An empty vigil.yaml is the defaults."""
    assert load_config(_write(tmp_path, "")).parsers == {}


def test_parser_settings_become_options(tmp_path: Path) -> None:
    """parsers.csv.map and options turn into the same options the command line gives."""
    cfg = load_config(
        _write(
            tmp_path, "parsers:\n  csv:\n    map: {src: source.ip}\n    options: {delimiter: ';'}\n"
        )
    )
    assert cfg.parsers["csv"].as_options() == {"delimiter": ";", "map.src": "source.ip"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: UTC\nparsrs: {}\n", r"parsrs: unknown setting \(at .*vigil.yaml:2:1\)"),
        (
            "timezone: Mars/Base\n",
            r"timezone: unknown time zone 'Mars/Base' \(at .*vigil.yaml:1:1\)",
        ),
        (
            "parsers:\n  csv:\n    map: {src: source.ip}\n    colour: red\n",
            r"parsers.csv.colour: unknown setting \(at .*vigil.yaml:4:5\)",
        ),
        ("parsers: [1, 2\n", r"invalid YAML: .* \(at .*vigil.yaml:2:1\)"),
        ("- just\n- a list\n", r"must be a mapping of settings \(at .*vigil.yaml:1:1\)"),
    ],
)
def test_errors_are_located(tmp_path: Path, text: str, message: str) -> None:
    """Each invalid config names the setting and the file:line:column it stands at."""
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text))


def test_unreadable_file(tmp_path: Path) -> None:
    """A config path that cannot be read is a config error naming it."""
    with pytest.raises(ConfigError, match=r"cannot read config.*missing.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_suppressions_and_alert_settings(tmp_path: Path) -> None:
    """Suppressions and alert settings load into their models."""
    cfg = load_config(
        _write(
            tmp_path,
            "alerts: {throttle: 30m}\n"
            "suppressions:\n"
            "  - rule: ssh_*\n"
            "    match: {source.ip: 192.0.2.0/24}\n"
            "    reason: our vulnerability scanner\n"
            "    expires: 2027-01-01T00:00:00Z\n",
        )
    )
    assert cfg.alerts.throttle.total_seconds() == 1800
    assert cfg.suppressions[0].build().reason == "our vulnerability scanner"


def test_suppression_without_reason_is_refused(tmp_path: Path) -> None:
    """A suppression must say why; a missing reason names its list position and line."""
    with pytest.raises(ConfigError, match=r"suppressions.0.reason: required .*vigil.yaml:2:5"):
        load_config(_write(tmp_path, "suppressions:\n  - rule: x\n"))
