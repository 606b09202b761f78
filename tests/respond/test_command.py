"""The command responder: the operator's argv template, run with validated values only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.errors import ResponderError, TargetRefused
from vigil.respond.base import ResponderContext
from vigil.respond.command import CommandResponder, CommandSettings, render
from vigil.respond.model import Action, ActionKind
from vigil.respond.registry import get_responder

# Targets an alert field could carry that must never reach a command.
HOSTILE_TARGETS = [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "203.0.113.7; id",
    "203.0.113.7\nid",
    "1.2.3.4 -j ACCEPT",
    "-j ACCEPT",
    " 203.0.113.7",
    "203.0.113.0/8",
    "127.0.0.1",
    "",
]


def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A script that appends its arguments, NUL-terminated, to the file it is given."""
    script = tmp_path / "record.sh"
    script.write_text('#!/bin/sh\nout="$1"; shift\nprintf \'%s\\0\' "$@" >> "$out"\n')
    script.chmod(0o755)
    return script, tmp_path / "calls"


def recorded(out: Path) -> list[str]:
    return out.read_text().split("\0")[:-1] if out.exists() else []


def block(target: str, **extra: object) -> Action:
    fields: dict[str, object] = {
        "responder": "command",
        "kind": ActionKind.CALL,
        "target": target,
        "ttl": timedelta(hours=1),
        "created_at": datetime(2026, 11, 22, 10, tzinfo=UTC),
        "rule_name": "firewall_connection_flood",
        "alert_id": "4f1c2a",
    }
    fields.update(extra)
    return Action(**fields)  # type: ignore[arg-type]


def responder(**settings: object) -> CommandResponder:
    return CommandResponder(CommandSettings.model_validate(settings), ResponderContext())


def test_act_runs_the_template_with_each_placeholder_inside_its_argument(tmp_path: Path) -> None:
    """Each placeholder is replaced inside its own argument, literal text around it kept."""
    script, out = recorder(tmp_path)
    argv = [str(script), str(out), "{target}", "--ttl={ttl}", "{rule}", "id:{alert_id}", "{{x}}"]
    responder(argv=argv).act(block("2001:db8:0:0::7"))
    assert recorded(out) == [
        "2001:db8::7",
        "--ttl=3600",
        "firewall_connection_flood",
        "id:4f1c2a",
        "{x}",
    ]


def test_manual_action_without_rule_or_ttl_gets_empty_rule_and_zero_ttl(tmp_path: Path) -> None:
    """A manual, permanent action passes ttl 0 and empty rule and alert id arguments."""
    script, out = recorder(tmp_path)
    argv = [str(script), str(out), "{target}", "{ttl}", "{rule}", "{alert_id}"]
    responder(argv=argv).act(block("198.51.100.0/24", ttl=None, rule_name=None, alert_id=None))
    assert recorded(out) == ["198.51.100.0/24", "0", "", ""]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_target_is_refused_and_nothing_runs(tmp_path: Path, target: str) -> None:
    """A target that is not exactly one address or prefix is refused before any command."""
    script, out = recorder(tmp_path)
    with pytest.raises(TargetRefused):
        responder(argv=[str(script), str(out), "{target}"]).act(block(target))
    assert not out.exists()


@pytest.mark.parametrize("rule", ["-rf", ".hidden", "a b", "x;id", "$(id)", "r\nx", "ü"])
def test_rule_name_outside_the_safe_alphabet_is_refused(tmp_path: Path, rule: str) -> None:
    """A rule name that could be read as an option or hold shell text is refused."""
    script, out = recorder(tmp_path)
    with pytest.raises(TargetRefused, match="rule name"):
        responder(argv=[str(script), str(out), "{rule}"]).act(block("203.0.113.7", rule_name=rule))
    assert not out.exists()


def test_hostile_alert_id_is_refused(tmp_path: Path) -> None:
    """An alert id with shell text is refused like a rule name."""
    script, out = recorder(tmp_path)
    with pytest.raises(TargetRefused, match="alert id"):
        responder(argv=[str(script), str(out), "{alert_id}"]).act(
            block("203.0.113.7", alert_id="`id`")
        )
    assert not out.exists()


def test_user_targets_are_checked_as_user_names(tmp_path: Path) -> None:
    """With target: user, {target} is a validated user name; root and odd names are refused."""
    script, out = recorder(tmp_path)
    cmd = responder(argv=[str(script), str(out), "{target}"], target="user")
    cmd.act(block("mallory"))
    for bad in ("root", "-mallory", "mallory; id", "203.0.113.7 x"):
        with pytest.raises(TargetRefused):
            cmd.act(block(bad))
    assert recorded(out) == ["mallory"]


def test_revert_runs_revert_argv_and_without_it_nothing(tmp_path: Path) -> None:
    """revert runs revert_argv; a responder without one has nothing to undo."""
    script, out = recorder(tmp_path)
    responder(argv=[str(script), str(out), "ban"]).revert(block("203.0.113.7"))
    assert not out.exists()
    with_undo = responder(
        argv=[str(script), str(out), "ban", "{target}"],
        revert_argv=[str(script), str(out), "unban", "{target}"],
    )
    with_undo.revert(block("203.0.113.7"))
    assert recorded(out) == ["unban", "203.0.113.7"]


def test_check_reads_one_target_a_line_and_none_without_list_argv(tmp_path: Path) -> None:
    """check() is None without list_argv; with it, the printed targets in canonical form."""
    assert responder(argv=["true"]).check() is None
    listing = tmp_path / "list.txt"
    listing.write_text("# banned\n203.0.113.7\n\n 2001:db8:0::1 \n198.51.100.0/24\nnot-an-ip\n")
    cmd = responder(argv=["true"], list_argv=["cat", str(listing)])
    assert cmd.check() == {"203.0.113.7", "2001:db8::1", "198.51.100.0/24"}


def test_failing_command_is_a_responder_error_with_its_stderr(tmp_path: Path) -> None:
    """A non-zero exit raises ResponderError carrying the command's last stderr line."""
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'device busy' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(ResponderError, match=r"exit 3\): device busy"):
        responder(argv=[str(script), "{target}"]).act(block("203.0.113.7"))


def test_missing_program_is_a_responder_error() -> None:
    """A program that is not installed is a ResponderError naming it."""
    with pytest.raises(ResponderError, match="not installed"):
        responder(argv=["/nonexistent/vigil-block", "{target}"]).act(block("203.0.113.7"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"argv": []}, "at least the program"),
        ({"argv": ["{target}", "x"]}, "program must be a fixed"),
        ({"argv": ["block", "{address}"]}, r"unknown placeholder \{address\}"),
        ({"argv": ["block", "{target!r}"]}, "no format or conversion"),
        ({"argv": ["block", "{target:>20}"]}, "no format or conversion"),
        ({"argv": ["block", "{target.__class__}"]}, "unknown placeholder"),
        ({"argv": ["block", "{target"]}, "expected '}'"),
        ({"argv": ["block", "a\nb"]}, "control characters"),
        ({"argv": ["block"], "list_argv": ["list", "{rule}"]}, "takes no placeholders"),
        ({"argv": ["block"], "shell": "rm -rf /"}, "Extra inputs"),
        ({"argv": ["block"], "timeout_seconds": 0}, "greater than 0"),
    ],
)
def test_invalid_templates_are_configuration_errors(
    settings: dict[str, object], message: str
) -> None:
    """A template that could not be run safely is refused when the configuration loads."""
    with pytest.raises(ValidationError, match=message):
        CommandSettings.model_validate(settings)


def test_render_never_splits_or_joins_arguments() -> None:
    """A value with spaces or quotes stays one argument; the element count never changes."""
    values = {"target": "a b 'c' \"d\" $(e)", "ttl": "1", "rule": "", "alert_id": ""}
    assert render(["p", "{target}", "x{ttl}y"], values) == ["p", values["target"], "x1y"]


def test_command_is_registered_under_its_type() -> None:
    """`type: command` in vigil.yaml finds the command responder."""
    assert get_responder("command") is CommandResponder
