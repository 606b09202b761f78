"""The `command` responder: an operator-defined program run with an argument list.

A template is a list, never a shell string: `["/usr/local/bin/block", "{target}",
"--ttl", "{ttl}"]`. Each placeholder is replaced *inside its own element*, so a value
can never add, split or remove arguments, and every value has been validated first:

    {target}    the action's target, checked again here (an address or prefix in
                canonical form, or a user name with `target: user`)
    {ttl}       whole seconds the action holds (0: no limit)
    {rule}      the rule that caused it: letters, digits, `_ . -`, not starting with
                `-` or `.` (anything else is refused); empty for a manual action
    {alert_id}  the alert's id, same alphabet; empty for a manual action

`{{` and `}}` are literal braces. The program (first element) is fixed by the operator
and cannot hold a placeholder. The `ssh` responder uses the same templates for devices
that are not Linux firewalls.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vigil.errors import TargetRefused
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind
from vigil.respond.runner import LocalRunner, Runner
from vigil.respond.targets import canonical, network_target, user_target

PLACEHOLDERS = ("target", "ttl", "rule", "alert_id")

# Rule names and alert ids as they may appear in an argument: never an option.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

# Width is the policy's decision (respond.max_prefix); here only the form is checked.
ANY_WIDTH = {4: 0, 6: 0}

TargetType = Literal["address", "user"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _pieces(arg: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder or None) pairs of one template element."""
    out: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in string.Formatter().parse(arg):
        if name is not None and (spec or conversion):
            raise ValueError(f"placeholders take no format or conversion: {arg!r}")
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{name}}} in {arg!r} (known: {known})")
        out.append((literal, name))
    return out


def check_template(argv: list[str]) -> list[str]:
    if not argv:
        raise ValueError("a command needs at least the program to run")
    for arg in argv:
        if _CONTROL.search(arg):
            raise ValueError(f"control characters in a command argument: {arg!r}")
        _pieces(arg)
    if any(name is not None for _, name in _pieces(argv[0])) or not argv[0].strip():
        raise ValueError(f"the program must be a fixed name or path, not {argv[0]!r}")
    return argv


def check_fixed(argv: list[str]) -> list[str]:
    check_template(argv)
    if any(name is not None for arg in argv for _, name in _pieces(arg)):
        raise ValueError("a listing command has no action, so it takes no placeholders")
    return argv


ArgvTemplate = Annotated[list[str], AfterValidator(check_template)]
FixedArgv = Annotated[list[str], AfterValidator(check_fixed)]


def render(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The argument list for `template`, each placeholder replaced inside its element."""
    return [
        "".join(
            literal + (values[name] if name is not None else "") for literal, name in _pieces(arg)
        )
        for arg in template
    ]


def _safe_name(value: str | None, what: str) -> str:
    if value is None:
        return ""
    if not SAFE_NAME.fullmatch(value):
        raise TargetRefused(f"{what} {value!r} cannot be passed to a command")
    return value


def target_value(action: Action, target: TargetType) -> str:
    if target == "user":
        return user_target(action.target)
    return canonical(network_target(action.target, max_prefix=ANY_WIDTH))


def values_of(action: Action, target: TargetType) -> dict[str, str]:
    """Every placeholder's value for `action`, validated, or TargetRefused."""
    ttl = action.ttl if action.ttl is not None else timedelta(0)
    return {
        "target": target_value(action, target),
        "ttl": str(int(ttl.total_seconds())),
        "rule": _safe_name(action.rule_name, "rule name"),
        "alert_id": _safe_name(action.alert_id, "alert id"),
    }


def listed_targets(output: str, target: TargetType) -> set[str]:
    """The targets a listing printed, one per line, canonical. Lines that are not a
    target (headers, blank lines) are not the backend's holdings and are left out."""
    held: set[str] = set()
    for line in output.splitlines():
        text = line.strip()
        if not text:
            continue
        try:
            if target == "user":
                held.add(user_target(text))
            else:
                held.add(canonical(network_target(text, max_prefix=ANY_WIDTH)))
        except TargetRefused:
            continue
    return held


class TemplateBackend:
    """act/revert/check by argv templates through any runner (local or SSH)."""

    def __init__(
        self,
        act_argv: Sequence[str],
        revert_argv: Sequence[str] | None,
        list_argv: Sequence[str] | None,
        runner: Runner,
        target: TargetType = "address",
    ) -> None:
        self.act_argv = list(act_argv)
        self.revert_argv = list(revert_argv) if revert_argv is not None else None
        self.list_argv = list(list_argv) if list_argv is not None else None
        self.runner = runner
        self.target = target

    def act(self, action: Action) -> None:
        self.runner.run(render(self.act_argv, values_of(action, self.target)))

    def revert(self, action: Action) -> None:
        # Without a revert command there is nothing to undo.
        if self.revert_argv is not None:
            self.runner.run(render(self.revert_argv, values_of(action, self.target)))

    def check(self) -> set[str] | None:
        if self.list_argv is None:
            return None
        return listed_targets(self.runner.run(self.list_argv).stdout, self.target)


class CommandSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    argv: ArgvTemplate = Field(description="program and arguments run to act")
    revert_argv: ArgvTemplate | None = Field(
        default=None, description="run to undo (on revert or TTL expiry); none: nothing to undo"
    )
    list_argv: FixedArgv | None = Field(
        default=None, description="prints the targets in force, one per line (for check)"
    )
    target: TargetType = Field(
        default="address", description="what {target} is: an address/prefix or a user name"
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how long one run may take"
    )


class CommandResponder:
    """Runs the operator's program on this host. It holds nothing vigil can see unless
    `list_argv` is given, so its actions are calls."""

    id: ClassVar[str] = "command"
    kind: ClassVar[ActionKind] = ActionKind.CALL
    Settings: ClassVar[type[BaseModel]] = CommandSettings

    def __init__(self, settings: BaseModel, context: ResponderContext | None = None) -> None:
        if not isinstance(settings, CommandSettings):
            raise TypeError(f"command responder needs CommandSettings, not {type(settings)}")
        self.settings = settings
        self.context = context or ResponderContext()
        runner = LocalRunner(timeout=settings.timeout_seconds)
        self.backend = TemplateBackend(
            settings.argv, settings.revert_argv, settings.list_argv, runner, settings.target
        )

    def act(self, action: Action) -> None:
        self.backend.act(action)

    def revert(self, action: Action) -> None:
        self.backend.revert(action)

    def check(self) -> set[str] | None:
        return self.backend.check()
