"""Loading vigil.yaml: defaults, parser options, and errors that name file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vigil.config.loader import load_config, parse_yaml
from vigil.config.models import VigilConfig
from vigil.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_defaults() -> None:
    """Without a config file vigil runs on its defaults."""
    assert load_config(None).timezone == "UTC"


def test_defaults_equal_validated_defaults() -> None:
    """The defaults vigil runs on without a file are what validating no settings gives."""
    assert load_config(None) == VigilConfig.model_validate({})


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
        (
            "suppressions:\n  - rule: ssh_*\n    reason: scanner\n"
            "    match:\n      user.name: root\n      source.ip: 192.0.2.0/33\n",
            r"suppressions.0.match.source.ip: 192.0.2.0/33 is not a valid CIDR"
            r" \('33' is not a valid netmask\) \(at .*vigil.yaml:6:7\)",
        ),
        (
            "alerts:\n  throttle: 99999999999999d\n",
            r"alerts.throttle: '99999999999999d' is too long: a duration is at most 366d"
            r" \(at .*vigil.yaml:2:3\)",
        ),
        (
            "rules:\n  overrides:\n    ssh_bruteforce: {timespan: 3000000d}\n",
            r"rules.overrides.ssh_bruteforce.timespan: '3000000d' is too long"
            r".* \(at .*vigil.yaml:3:22\)",
        ),
        (
            "rules:\n  overrides:\n    ssh_bruteforce:\n      timespan: 0s\n",
            r"rules.overrides.ssh_bruteforce.timespan: must be longer than 0 s"
            r" \(at .*vigil.yaml:4:7\)",
        ),
        (
            "rules:\n  overrides:\n    ssh_bruteforce: {timespan: 0.0000001s}\n",
            r"timespan: must be longer than 0 s \(at .*vigil.yaml:3:22\)",
        ),
        (
            "rules:\n  overrides:\n    ssh_bruteforce: {threshold: 99999999999999999999999}\n",
            r"rules.overrides.ssh_bruteforce.threshold: Input should be less than or equal to"
            r" 9007199254740992 \(at .*vigil.yaml:3:22\)",
        ),
        (
            "respond:\n  lookback: 9999999999w\n",
            r"respond.lookback: '9999999999w' is too long.* \(at .*vigil.yaml:2:3\)",
        ),
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


NESTED = """\
timezone: Europe/Berlin   # comment
suppressions:
  - {rule: "ssh_*", reason: "Prüfung – lab", match: {source.ip: 192.0.2.0/24}}
  - rule: web_*
    reason: >
      folded
      text
notify:
  channels:
    ops: {url_env: OPS_URL, rules: [a, "b", 'c']}
"""


def _pure_marks(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Where each key's value stands, as the pure-Python parser places it."""
    marks: dict[tuple[str | int, ...], tuple[int, int]] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, key.value))
                marks[(*path, key.value)] = (key.start_mark.line + 1, key.start_mark.column + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    walk(yaml.compose(text, Loader=yaml.SafeLoader), ())
    return marks


def test_locations_are_those_of_the_pure_python_parser() -> None:
    """Values and key locations (non-ASCII text, flow and block style) are the same
    whichever YAML parser reads the file."""
    data, marks = parse_yaml(NESTED, "vigil.yaml")
    assert data == yaml.safe_load(NESTED)
    assert marks == _pure_marks(NESTED)


@pytest.mark.parametrize(
    "text",
    [
        "parsers: [1, 2\n",
        "a: b: c\n",
        "timezone: UTC\n\tparsers: {}\n",
        "key: 'unclosed\n",
        "a: &x 1\nb: *y\n",
        "a: !!python/object:os.system x\n",
        "- a\nb: c\n",
    ],
)
def test_yaml_errors_read_as_the_pure_python_parser_words_them(text: str) -> None:
    """A YAML error is reported with the pure-Python parser's words and place."""
    with pytest.raises(yaml.MarkedYAMLError) as expected:
        yaml.safe_load(text)
    mark = expected.value.problem_mark or expected.value.context_mark
    assert mark is not None
    where = f"vigil.yaml:{mark.line + 1}:{mark.column + 1}"
    with pytest.raises(ConfigError) as got:
        parse_yaml(text, "vigil.yaml")
    assert str(got.value) == f"invalid YAML: {expected.value.problem} (at {where})"


def test_a_loaded_config_locates_its_settings(tmp_path: Path) -> None:
    """Errors found later (against the rules) can name the line of the setting."""
    cfg = load_config(_write(tmp_path, "rules:\n  disabled:\n    - a\n    - b\n"))
    assert str(cfg.locate(("rules", "disabled", 1))) == f"{tmp_path / 'vigil.yaml'}:4:7"
