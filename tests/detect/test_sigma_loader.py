"""Loading Sigma files and folders: rules, correlations and located errors."""

from __future__ import annotations

from pathlib import Path

from vigil.detect.correlation.spec import CorrelationSpec, spec_from_sigma
from vigil.detect.sigma.compiler import rule_name
from vigil.detect.sigma.loader import load_rules, load_rules_text

RULES = Path(__file__).parents[1] / "data" / "rules"
RULE = """\
title: {title}
id: {id}
logsource: {{category: webserver}}
detection: {{sel: {{cs-method: GET}}, condition: sel}}
"""


def test_loads_folders_recursively() -> None:
    """A folder yields every .yml/.yaml rule below it; other files are ignored."""
    loaded = load_rules([RULES / "good"])
    assert loaded.errors == []
    assert sorted(r.title for r in loaded.rules) == [
        "Failed SSH login for root",
        "Telnet allowed through the firewall",
        "Web scanner user agent",
    ]


def test_correlations_come_apart_with_resolved_references() -> None:
    """Correlation rules are returned separately, their rule references resolved."""
    loaded = load_rules([RULES / "good"])
    (correlation,) = loaded.correlations
    (reference,) = correlation.rules
    assert reference.rule.title == "Failed SSH login for root"


def test_yaml_error_has_file_line_and_column() -> None:
    """A YAML syntax error names the file, line and column."""
    loaded = load_rules([RULES / "bad" / "broken_yaml.yml"])
    (error,) = loaded.errors
    assert (error.path, error.line, error.column) == (str(RULES / "bad" / "broken_yaml.yml"), 7, 14)
    assert str(error).startswith(f"{RULES / 'bad' / 'broken_yaml.yml'}:7:14: YAML: ")


def test_invalid_rule_is_an_error_and_neighbours_load(tmp_path: Path) -> None:
    """A document that is not a valid rule is reported with its file; others still load."""
    (tmp_path / "ok.yml").write_text(
        RULE.format(title="ok", id="11111111-1111-4111-8111-111111111111")
    )
    (tmp_path / "bad.yml").write_text((RULES / "bad" / "no_detection.yml").read_text())
    loaded = load_rules([tmp_path])
    assert [r.title for r in loaded.rules] == ["ok"]
    (error,) = loaded.errors
    assert error.path == str(tmp_path / "bad.yml")
    assert "detection" in error.message


def test_unresolved_correlation_reference_is_an_error() -> None:
    """A correlation over a rule that was not loaded is reported and left out."""
    loaded = load_rules([RULES / "bad" / "correlation_unknown_rule.yml"])
    assert loaded.correlations == []
    (error,) = loaded.errors
    assert "no_such_rule" in error.message


def test_non_utf8_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 is an error naming the file, not an exception."""
    path = tmp_path / "binary.yml"
    path.write_bytes(b"title: \xff\xfe\x00bad\n")
    (error,) = load_rules([path]).errors
    assert (error.path, error.message) == (str(path), "not UTF-8 text (byte 7)")


def test_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is an error."""
    (error,) = load_rules([tmp_path / "nope"]).errors
    assert error.message == "no such file or directory"


def test_non_mapping_document(tmp_path: Path) -> None:
    """A YAML document that is a list is an error, not an exception."""
    path = tmp_path / "list.yml"
    path.write_text("- just\n- a list\n")
    (error,) = load_rules([path]).errors
    assert error.path == str(path)


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    """Two rules with one id: the first loads, the second is reported."""
    same = "22222222-2222-4222-8222-222222222222"
    (tmp_path / "a.yml").write_text(RULE.format(title="first", id=same))
    (tmp_path / "b.yml").write_text(RULE.format(title="second", id=same))
    loaded = load_rules([tmp_path])
    assert [r.title for r in loaded.rules] == ["first"]
    (error,) = loaded.errors
    assert error.path == str(tmp_path / "b.yml")
    assert f"duplicate rule id {same}" in error.message


def test_text_with_several_documents() -> None:
    """One YAML text can hold several rules."""
    text = (
        RULE.format(title="one", id="33333333-3333-4333-8333-333333333333")
        + "---\n"
        + RULE.format(title="two", id="44444444-4444-4444-8444-444444444444")
    )
    loaded = load_rules_text(text, "inline")
    assert [r.title for r in loaded.rules] == ["one", "two"]


def test_lookaround_regex_loads() -> None:
    """A valid PCRE-style regex loads (it is the compiler that reports Rust's limits)."""
    text = RULE.format(title="re", id="55555555-5555-4555-8555-555555555555").replace(
        "cs-method: GET", "cs-method|re: 'G(?=ET)'"
    )
    loaded = load_rules_text(text)
    assert (len(loaded.rules), loaded.errors) == (1, [])


def test_unknown_modifier_is_an_error() -> None:
    """A modifier pySigma does not know is a load error with the modifier's name."""
    text = RULE.format(title="m", id="66666666-6666-4666-8666-666666666666").replace(
        "cs-method: GET", "cs-method|sometimes: GET"
    )
    (error,) = load_rules_text(text, "inline.yml").errors
    assert "sometimes" in error.message
    assert error.path == "inline.yml"


def test_range_conditions_load() -> None:
    """A correlation with a range condition (gte and lt) loads and keeps both bounds."""
    text = (
        RULE.format(title="base", id="7f2b4f0e-5f0a-4a8e-9c53-2d3a1b9f0c11")
        + "name: base\n---\n"
        + "title: ranged\nname: ranged\ncorrelation:\n  type: event_count\n  rules: [base]\n"
        + "  group-by: [source.ip]\n  timespan: 10m\n  condition: {gte: 5, lt: 100}\n"
    )
    loaded = load_rules_text(text)
    assert loaded.errors == []
    spec = spec_from_sigma(loaded.correlations[0])
    assert isinstance(spec, CorrelationSpec)
    assert [(b.op, b.value) for b in spec.bounds] == [("gte", 5), ("lt", 100)]


def test_nameless_rules_of_one_file_are_named_by_their_ids(tmp_path: Path) -> None:
    """Rules without `name:` sharing a file get distinct names (their ids), so their
    alerts are not folded into each other."""
    path = tmp_path / "rules.yml"
    ids = ["11111111-2222-4333-8444-555555555555", "953d460b-f810-420a-97a2-cfca4c98e602"]
    path.write_text("---\n".join(RULE.format(title=f"t{i}", id=i) for i in ids))
    loaded = load_rules([path])
    assert loaded.errors == []
    assert [rule_name(r) for r in loaded.rules] == ids


def test_a_nameless_rule_alone_in_its_file_is_named_after_it(tmp_path: Path) -> None:
    """One rule per file, as SigmaHQ writes them: the file's stem is the rule's name."""
    path = tmp_path / "web_probe.yml"
    path.write_text(RULE.format(title="probe", id="11111111-2222-4333-8444-555555555555"))
    (rule,) = load_rules([path]).rules
    assert rule_name(rule) == "web_probe"


def test_duplicate_names_are_an_error_naming_both_files(tmp_path: Path) -> None:
    """Two rules with one `name:` in a pack: the second is a load error naming both files."""
    for folder, rule_id in (("a", "11111111-2222-4333-8444-555555555555"), ("b", None)):
        (tmp_path / folder).mkdir()
        text = RULE.format(title=f"from {folder}", id=rule_id or "")
        if rule_id is None:
            text = text.replace("id: \n", "")
        (tmp_path / folder / "x.yml").write_text("name: probe\n" + text)
    loaded = load_rules([tmp_path])
    assert [r.title for r in loaded.rules] == ["from a"]
    (error,) = loaded.errors
    assert error.path == str(tmp_path / "b" / "x.yml")
    assert "duplicate rule name 'probe'" in error.message
    assert str(tmp_path / "a" / "x.yml") in error.message


def test_a_given_name_that_collides_is_an_error(tmp_path: Path) -> None:
    """A nameless rule whose file stem is another rule's name is refused, with the fix."""
    (tmp_path / "a.yml").write_text(
        "name: probe\n" + RULE.format(title="a", id="11111111-2222-4333-8444-555555555555")
    )
    (tmp_path / "probe.yml").write_text(
        RULE.format(title="b", id="953d460b-f810-420a-97a2-cfca4c98e602")
    )
    (error,) = load_rules([tmp_path]).errors
    assert "rule without `name:`; give it one" in error.message
