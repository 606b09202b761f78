"""Pydantic models of `vigil.yaml`. Unknown keys are errors (a typo must not pass silently)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)

from vigil.alerts.gate import DEFAULT_THROTTLE
from vigil.alerts.model import MAX_EVIDENCE
from vigil.alerts.suppress import Suppression, cidr_problem
from vigil.config.durations import Duration, PositiveDuration
from vigil.config.live import LiveSettings, Sources
from vigil.config.notify import NotifySettings
from vigil.config.respond import ResponderConfig, RespondSettings
from vigil.errors import ConfigError, Location

# (key path) → where that key stands in the file (1-based line and column)
Marks = dict[tuple[str | int, ...], tuple[int, int]]
Key = tuple[str | int, ...]


class SettingError(ConfigError):
    """A setting that is valid alone but not with the rules loaded (an override of a
    rule that is not there, a threshold past the rule's upper bound). `key` is its path
    in vigil.yaml, so that whoever holds the config can point at its line
    (`VigilConfig.locate`)."""

    def __init__(self, key: Key, message: str) -> None:
        super().__init__(f"{'.'.join(str(k) for k in key)}: {message}")
        self.key = key


def nearest_mark(marks: Marks, key: Key) -> tuple[int | None, int | None]:
    """Where `key`, or the nearest setting that holds it, stands in the file."""
    for end in range(len(key), -1, -1):
        if key[:end] in marks:
            return marks[key[:end]]
    return None, None


class Strict(BaseModel):
    # Validators are built on first use, not at import (see vigil.config.loader._defaults).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ParserSettings(Strict):
    """Options for one format, as `--parser-option` and `--map` give them on the command line."""

    map: dict[str, str] = Field(default_factory=dict, description="column → ECS field (csv)")
    options: dict[str, str] = Field(default_factory=dict, description="parser options")

    def as_options(self) -> dict[str, str]:
        out = dict(self.options)
        out.update({f"map.{column}": field for column, field in self.map.items()})
        return out


def _cidr_or_other(pattern: str) -> str:
    problem = cidr_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


# A suppression's field matcher; one written as a CIDR must be one (else it never matches).
MatchPattern = Annotated[str, AfterValidator(_cidr_or_other)]


class SuppressionSettings(Strict):
    rule: str = Field(description="rule name or id; * and ? wildcards")
    match: dict[str, MatchPattern] = Field(
        default_factory=dict, description="entity field → value, CIDR or glob; all must match"
    )
    reason: str = Field(min_length=1, description="why: shown wherever the suppression acts")
    expires: AwareDatetime | None = Field(default=None, description="when it stops applying")

    def build(self) -> Suppression:
        return Suppression(
            rule=self.rule, match=dict(self.match), reason=self.reason, expires=self.expires
        )


class AlertSettings(Strict):
    throttle: Duration = Field(
        default=DEFAULT_THROTTLE,
        description="a repeat of rule + entity within this time of the last one is merged into it",
    )
    max_evidence: int = Field(default=MAX_EVIDENCE, ge=0, le=1000)


class RuleOverride(Strict):
    threshold: int | None = Field(
        # 2^53: the largest count a correlation keeps exactly (MAX_COUNT of its spec).
        default=None,
        ge=1,
        le=2**53,
        description="new lower bound (gt/gte) of a correlation rule",
    )
    timespan: PositiveDuration | None = Field(
        default=None, description="new window of a correlation rule (0 s < timespan <= 366d)"
    )


class RuleSettings(Strict):
    paths: list[Path] = Field(default_factory=list, description="more rule files or folders")
    default_pack: bool = Field(default=True, description="load vigil's bundled rules")
    disabled: list[str] = Field(default_factory=list, description="rule names or ids not to run")
    overrides: dict[str, RuleOverride] = Field(default_factory=dict)


class VigilConfig(Strict):
    state_dir: Path | None = Field(default=None, description="where vigil keeps its state")
    timezone: str = Field(default="UTC", description="zone of timestamps that carry none")
    parsers: dict[str, ParserSettings] = Field(default_factory=dict)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    suppressions: list[SuppressionSettings] = Field(default_factory=list)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    respond: RespondSettings | None = Field(
        default=None, description="response policy; absent: the built-in default (dry-run)"
    )
    responders: dict[str, ResponderConfig] = Field(default_factory=dict)
    sources: Sources = Field(default_factory=dict, description="what `vigil run` reads, by name")
    live: LiveSettings = Field(default_factory=LiveSettings)
    # The file it was read from and where each setting stands in it (set by
    # load_config), so errors found later, against the rules, can name the line.
    _origin: str | None = PrivateAttr(default=None)
    _marks: Marks = PrivateAttr(default_factory=dict)

    def located(self, origin: str, marks: Marks) -> VigilConfig:
        """This config, knowing the file it came from and where its settings stand."""
        self._origin = origin
        self._marks = marks
        return self

    def locate(self, key: Key) -> Location | None:
        """Where the setting at `key` stands in the config file (None: no file)."""
        if self._origin is None:
            return None
        line, column = nearest_mark(self._marks, key)
        return Location(self._origin, line, column)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
