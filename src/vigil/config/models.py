"""Pydantic models of `vigil.yaml`. Unknown keys are errors (a typo must not pass silently)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParserSettings(Strict):
    """Options for one format, as `--parser-option` and `--map` give them on the command line."""

    map: dict[str, str] = Field(default_factory=dict, description="column → ECS field (csv)")
    options: dict[str, str] = Field(default_factory=dict, description="parser options")

    def as_options(self) -> dict[str, str]:
        out = dict(self.options)
        out.update({f"map.{column}": field for column, field in self.map.items()})
        return out


class VigilConfig(Strict):
    state_dir: Path | None = Field(default=None, description="where vigil keeps its state")
    timezone: str = Field(default="UTC", description="zone of timestamps that carry none")
    parsers: dict[str, ParserSettings] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
