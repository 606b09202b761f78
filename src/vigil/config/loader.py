"""Load `vigil.yaml`: YAML → pydantic, with every error located at file:line:column."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vigil.config.models import Marks, VigilConfig, nearest_mark
from vigil.errors import ConfigError, Location

# Imported by `parse_yaml`: a run without a config file does not load PyYAML (~12 ms).
if TYPE_CHECKING:
    import yaml


def load_config(path: Path | None) -> VigilConfig:
    """The configuration in `path`; no path → the built-in defaults."""
    if path is None:
        return _defaults()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config: {e}", Location(str(path))) from e
    data, marks = parse_yaml(text, str(path))
    if data is None:
        return _defaults()
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of settings", Location(str(path), 1, 1))
    try:
        return VigilConfig.model_validate(data).located(str(path), marks)
    except ValidationError as e:
        err = e.errors()[0]
        loc = _in_file(marks, tuple(err["loc"]))
        line, column = nearest_mark(marks, loc)
        where = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        message = f"{where}: {_message(err)}{more}"
        raise ConfigError(message, Location(str(path), line, column)) from None


def _defaults() -> VigilConfig:
    """`VigilConfig()` without building its validator: the config models build theirs
    on first use (`defer_build`), ~15 ms that a run without a config file need not pay.
    Defaults are never validated, so nothing is skipped."""
    return VigilConfig.model_construct()


def parse_yaml(text: str, origin: str) -> tuple[Any, Marks]:
    """Parse YAML, keeping where each key's value stands (1-based line and column)."""
    import yaml  # noqa: PLC0415 - see the TYPE_CHECKING import

    try:
        try:
            # libyaml when PyYAML has it: ~10x faster than the pure-Python parser.
            node, data = _parse(text, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            # libyaml words some errors its own way: the pure-Python parser reports them
            # as operators have always read them.
            node, data = _parse(text, yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Location(origin, mark.line + 1, mark.column + 1) if mark else Location(origin)
        raise ConfigError(f"invalid YAML: {e.problem or e}", loc) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", Location(origin)) from None
    marks: Marks = {}
    if node is not None:
        _walk(node, (), marks)
    return data, marks


def _parse(text: str, loader_class: Any) -> tuple[yaml.Node | None, Any]:
    """The document's node tree and its data (what `yaml.safe_load` returns), from one
    parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: tuple[str | int, ...], marks: Marks) -> None:
    from yaml import MappingNode, ScalarNode, SequenceNode  # noqa: PLC0415 - loaded by now

    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else str(key.start_mark)
            _walk(value, (*path, name), marks)
            # Errors about a setting point at its key, not at its value.
            marks[(*path, name)] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), marks)


def _in_file(marks: Marks, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The error's path as the file spells it: without the member names pydantic puts
    in for a tagged union (`sources.auth.file.format` is `sources.auth.format`)."""
    out: tuple[Any, ...] = ()
    for i, part in enumerate(loc):
        following = loc[i + 1] if i + 1 < len(loc) else None
        member = (*out, part) not in marks and following is not None and (*out, following) in marks
        if not member:
            out = (*out, part)
    return out


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown setting"
    if err["type"] == "missing":
        return "required setting is missing"
    return str(err["msg"]).removeprefix("Value error, ")
