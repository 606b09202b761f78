"""Sigma conditions and keywords compiled to polars; unsupported rules with reasons."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.detect.sigma_util import compile_any, compiled, hits, unsupported
from vigil.detect.sigma.compiler import (
    AnyOf,
    CompiledRule,
    FieldTest,
    Unsupported,
    compile_rule,
    rule_name,
)
from vigil.detect.sigma.loader import load_rules
from vigil.detect.sigma.modifiers import CidrMatch, StringMatch

WEB = {"category": "webserver"}

FRAME = pl.DataFrame(
    {
        "user.name": ["root", "root", "bob", "bob", None],
        "process.name": ["sudo", "su", "sudo", "cron", "sudo"],
        "message": ["a", "b", "c", "d", "e"],
    }
)
SELECTIONS = {
    "sel_user": {"user.name": "root"},
    "sel_prog": {"process.name": "sudo"},
    "other": {"message": "e"},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sel_user and sel_prog", [True, False, False, False, False]),
        ("sel_user or sel_prog", [True, True, True, False, True]),
        ("sel_prog and not sel_user", [False, False, True, False, True]),
        ("not (sel_user or sel_prog)", [False, False, False, True, False]),
        ("1 of sel_*", [True, True, True, False, True]),
        ("all of sel_*", [True, False, False, False, False]),
        ("all of them", [False, False, False, False, False]),
        ("1 of them", [True, True, True, False, True]),
        ("(sel_user and sel_prog) or other", [True, False, False, False, True]),
        ("sel_user and (sel_prog or other)", [True, False, False, False, False]),
    ],
)
def test_condition_forms(condition: str, expected: list[bool]) -> None:
    """and, or, not, parentheses, `1 of`/`all of` patterns and `them` evaluate as Sigma says."""
    rule = compiled({**SELECTIONS, "condition": condition})
    assert hits(rule, FRAME) == expected


def test_several_conditions_are_or() -> None:
    """A list of conditions matches when any of them does."""
    rule = compiled({**SELECTIONS, "condition": ["sel_user and sel_prog", "other"]})
    assert hits(rule, FRAME) == [True, False, False, False, True]


def test_list_of_maps_is_or_of_ands() -> None:
    """A selection that is a list of maps matches when all fields of any one map match."""
    detection = {
        "sel": [{"user.name": "root", "process.name": "su"}, {"user.name": "bob"}],
        "condition": "sel",
    }
    assert hits(compiled(detection), FRAME) == [False, True, True, True, False]


def test_keywords_search_message_case_insensitively() -> None:
    """Keywords are substring searches of `message`, ignoring case; a list is OR."""
    frame = pl.DataFrame({"message": ["Failed password for root", "FATAL: disk", "ok", None]})
    rule = compiled({"keywords": ["failed password", "fatal"], "condition": "keywords"})
    assert hits(rule, frame) == [True, True, False, False]


def test_keywords_with_all_modifier_are_and() -> None:
    """`'|all'` keywords must all occur."""
    frame = pl.DataFrame({"message": ["new user: name=x, UID=0,", "new user: UID=1000,"]})
    rule = compiled({"keywords": {"|all": ["new user", "UID=0,"]}, "condition": "keywords"})
    assert hits(rule, frame) == [True, False]


def test_keyword_wildcards_inside_value() -> None:
    """Wildcards inside a keyword are honoured; leading and trailing ones are implied."""
    frame = pl.DataFrame({"message": ["x wget http://a | sh y", "wget x", "sh | wget"]})
    rule = compiled({"keywords": ["wget *| sh"], "condition": "keywords"})
    assert hits(rule, frame) == [True, False, False]


def test_keyword_number_and_regex() -> None:
    """Number keywords search their text; `|re` keywords run the regex on the message."""
    frame = pl.DataFrame({"message": ["code 404 seen", "code 4040", "id=77"]})
    number = compiled({"keywords": [404], "condition": "keywords"})
    regex = compiled({"keywords": {"|re": r"id=\d+$"}, "condition": "keywords"})
    assert hits(number, frame) == [True, True, False]
    assert hits(regex, frame) == [False, False, True]


def test_keywords_combine_with_field_selections() -> None:
    """Keyword and field selections combine in one condition."""
    frame = pl.DataFrame({"message": ["segfault", "segfault", "ok"], "user.name": ["a", "b", "a"]})
    detection = {"kw": ["segfault"], "sel": {"user.name": "a"}, "condition": "kw and sel"}
    assert hits(compiled(detection), frame) == [True, False, False]


def test_or_of_contains_values_becomes_one_test() -> None:
    """A contains list on one field compiles to a single multi-pattern test."""
    rule = compiled({"sel": {"message|contains": ["a", "b", "c"]}, "condition": "sel"})
    assert rule.condition == FieldTest("message", StringMatch("contains", ("a", "b", "c")))


def test_or_of_cidrs_becomes_one_test() -> None:
    """A list of networks on one field compiles to one CIDR test."""
    rule = compiled({"sel": {"source.ip|cidr": ["10.0.0.0/8", "fc00::/7"]}, "condition": "sel"})
    assert isinstance(rule.condition, FieldTest)
    assert isinstance(rule.condition.matcher, CidrMatch)
    assert len(rule.condition.matcher.networks) == 2


def test_mixed_or_keeps_distinct_fields_apart() -> None:
    """OR-ed tests on different fields or of different kinds stay separate."""
    detection = {
        "a": {"message|contains": "x"},
        "b": {"message|startswith": "y"},
        "c": {"user.name|contains": "z"},
        "condition": "1 of them",
    }
    rule = compiled(detection)
    assert isinstance(rule.condition, AnyOf)
    assert len(rule.condition.args) == 3


def test_webserver_fields_are_mapped() -> None:
    """Sigma's webserver field names read vigil's ECS columns."""
    rule = compiled(
        {
            "sel": {"cs-method": "POST", "cs-uri-query|endswith": "/bash", "sc-status": 200},
            "condition": "sel",
        },
        WEB,
    )
    assert rule.fields == {"http.request.method", "url.original", "http.response.status_code"}


def test_ecs_names_pass_through_a_mapped_logsource() -> None:
    """An ECS column name in a rule is used as is."""
    rule = compiled({"sel": {"url.path|endswith": ".php"}, "condition": "sel"}, WEB)
    assert rule.fields == {"url.path"}


def test_unknown_field_is_unsupported() -> None:
    """A field vigil has no column for is reported, not silently never matched."""
    reason = unsupported({"sel": {"cs-cookie|contains": "x"}, "condition": "sel"}, WEB)
    assert reason == "field 'cs-cookie' has no vigil column for logsource webserver"


def test_unknown_logsource_is_unsupported() -> None:
    """A logsource no vigil parser produces is reported with the logsource."""
    logsource = {"product": "windows", "category": "process_creation"}
    reason = unsupported({"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"}, logsource)
    assert reason == "no vigil parser produces logsource product=windows category=process_creation"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ("source.ip", "'vigil:' must be a mapping of options"),
        ({"entity": 5}, "'vigil: entity' must be a field name or a list of them"),
        ({"group": ["x"]}, "unknown 'vigil:' option(s): group"),
        (
            {"entity": ["cs-cookie"]},
            "field 'cs-cookie' has no vigil column for logsource webserver",
        ),
    ],
)
def test_bad_vigil_options_are_unsupported(options: object, reason: str) -> None:
    """A malformed `vigil:` block makes the rule unsupported with the reason."""
    detection = {"sel": {"cs-method": "GET"}, "condition": "sel"}
    assert unsupported(detection, WEB, vigil=options) == reason


def test_entity_option_maps_field_names() -> None:
    """`vigil: {entity: [...]}` takes Sigma or ECS names and maps them."""
    detection = {"sel": {"cs-method": "GET"}, "condition": "sel"}
    rule = compiled(detection, WEB, vigil={"entity": ["c-ip", "url.domain"]})
    assert rule.entity == ("source.ip", "url.domain")


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("sel and missing", "Detection 'missing' not defined in detections"),
        ("sel | count() > 5", "The pipe syntax in Sigma conditions has been deprecated"),
    ],
)
def test_bad_condition_is_unsupported(condition: str, reason: str) -> None:
    """A condition pySigma cannot resolve makes the rule unsupported with its reason."""
    assert unsupported({"sel": {"message": "x"}, "condition": condition}).startswith(reason)


def test_regex_over_the_engine_size_limit_is_unsupported() -> None:
    """A pattern whose regex Rust cannot hold is reported, not left to fail at run time."""
    reason = unsupported({"sel": {"message": "a" + "?" * 60000 + "b"}, "condition": "sel"})
    assert reason.startswith("glob test of 1 value(s): Compiled regex exceeds size limit")


def test_rule_name_from_file_stem(tmp_path: Path) -> None:
    """A rule without `name` (or id), alone in its file, is called and keyed after its file."""
    path = tmp_path / "web_scanner.yml"
    path.write_text(
        "title: Scanner\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-method: GET}, condition: sel}\n"
    )
    (rule,) = load_rules([path]).rules
    compiled_rule = compile_rule(rule)
    assert rule_name(rule) == "web_scanner"
    assert isinstance(compiled_rule, CompiledRule)
    assert compiled_rule.key == "web_scanner"


def test_rule_metadata() -> None:
    """Level, tags and author come from the rule."""
    rule = compiled(
        {"sel": {"cs-method": "GET"}, "condition": "sel"},
        WEB,
        tags=["attack.t1190"],
        author="A. Author",
        level="critical",
    )
    assert (rule.level, rule.tags, rule.author) == ("critical", ("attack.t1190",), "A. Author")


@pytest.mark.parametrize(
    ("detection", "extra", "broken"),
    [
        ({"sel": {"message": "a"}, "condition": "sel and other"}, {}, True),
        ({"sel": {"message": "a"}, "condition": "sel"}, {"vigil": {"entiti": ["x"]}}, True),
        ({"sel": {"message|re": "a(?=b)"}, "condition": "sel"}, {}, False),
    ],
)
def test_a_broken_rule_is_told_from_an_unsupported_one(
    detection: dict[str, object], extra: dict[str, object], broken: bool
) -> None:
    """An undefined selection or unknown vigil: option is broken; a look-around regex is
    valid Sigma vigil cannot run."""
    result = compile_any(detection, **extra)
    assert isinstance(result, Unsupported)
    assert result.broken is broken
