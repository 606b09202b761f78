"""Jinja2 message templates: a subject and a body per channel, in the channel's format.

Templates run in Jinja's immutable sandbox: an operator's template can format what it is
given but not reach into Python. HTML is autoescaped (alert fields are log text, hence
hostile); text and Markdown are not, they are never interpreted as markup by a browser.

A template is a built-in name (`default`, `slack`: files `<name>.<txt|md|html>.j2` under
`notify/templates/`), a file of the operator's, or inline overrides. Files define
`{% block subject %}` and/or `{% block body %}`; what a file or an override leaves out
comes from the built-in `default` of the same format.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import FunctionLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from vigil.config.notify import MessageFormat, TemplateOverride

EXTENSIONS: dict[str, str] = {"text": "txt", "markdown": "md", "html": "html"}
MAX_SUBJECT = 200


def _builtin_source(name: str) -> str | None:
    node = resources.files("vigil.notify") / "templates" / name
    return node.read_text(encoding="utf-8") if node.is_file() else None


def _when(value: object) -> str:
    """An ISO timestamp or datetime as `2026-11-22 10:00:01 UTC`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def _duration(seconds: object) -> str:
    if seconds is None:
        return "no expiry"
    if not isinstance(seconds, int | float):
        return str(seconds)
    total = int(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def _entity(entity: object) -> str:
    if isinstance(entity, Mapping):
        return ", ".join(f"{k}={v}" for k, v in entity.items()) or "-"
    return str(entity)


def _oneline(value: object) -> str:
    return " ".join(str(value).split())


def _md_code(value: object) -> str:
    """Inline Markdown code that no backtick in the value can close early."""
    text = _oneline(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _slack(value: object) -> str:
    """Slack mrkdwn escapes only these three characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FILTERS: dict[str, Callable[..., str]] = {
    "when": _when,
    "duration": _duration,
    "entity": _entity,
    "oneline": _oneline,
    "md_code": _md_code,
    "slack": _slack,
}


def environment(fmt: MessageFormat) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FunctionLoader(_builtin_source),
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


def check_source(source: str) -> None:
    """ValueError with Jinja's message and line when `source` does not compile."""
    try:
        environment("text").parse(source)
    except TemplateError as e:
        line = getattr(e, "lineno", None)
        where = f" (template line {line})" if line else ""
        raise ValueError(f"template does not compile: {e.message or e}{where}") from None


def check_file(path: Path) -> None:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read template {path}: {e}") from None
    check_source(source)
    template = environment("text").from_string(source)
    if not {"subject", "body"} & set(template.blocks):
        raise ValueError(f"template {path} defines neither {{% block subject %}} nor body")


class MessageTemplate:
    """The subject and body templates of one channel."""

    def __init__(self, spec: str | TemplateOverride, fmt: MessageFormat) -> None:
        self.format = fmt
        self.env = environment(fmt)
        default = self._builtin("default")
        own: dict[str, Template] = {}
        if isinstance(spec, TemplateOverride):
            for part in ("subject", "body"):
                source = getattr(spec, part)
                if source is not None:
                    own[part] = self.env.from_string(source)
        else:
            chosen = self._builtin(spec) if spec in ("default", "slack") else self._file(spec)
            own = {part: chosen for part in ("subject", "body") if part in chosen.blocks}
        self._parts = {part: own.get(part, default) for part in ("subject", "body")}

    def _file(self, path: str) -> Template:
        try:
            return self.env.from_string(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TemplateError) as e:
            raise ValueError(f"cannot use template {path}: {e}") from None

    def _builtin(self, name: str) -> Template:
        for ext in (EXTENSIONS[self.format], "txt"):
            if _builtin_source(f"{name}.{ext}.j2") is not None:
                return self.env.get_template(f"{name}.{ext}.j2")
        raise ValueError(f"no built-in template {name!r}")

    def render(self, context: dict[str, Any]) -> tuple[str, str]:
        """(subject, body). Raises ValueError naming the part whose template failed."""
        out: dict[str, str] = {}
        for part, template in self._parts.items():
            try:
                if part in template.blocks:
                    ctx = template.new_context(context)
                    text = "".join(template.blocks[part](ctx))
                else:
                    text = template.render(context)
            except TemplateError as e:
                raise ValueError(f"the {part} template failed: {e}") from None
            out[part] = text
        subject = _oneline(out["subject"])
        if self.format == "html":
            # Autoescaping made the subject HTML; a mail subject is plain text.
            subject = html.unescape(subject)
        if len(subject) > MAX_SUBJECT:
            subject = subject[: MAX_SUBJECT - 1] + "…"
        return subject, out["body"].strip("\n") + "\n"
