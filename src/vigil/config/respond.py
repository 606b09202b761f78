"""Settings of `respond:` (the response policy) and `responders:` (the backends it uses).

A `responders:` entry is `{type: <registry id>, ...}`; everything beside `type` is that
responder's own settings, validated by its `Settings` model here, so an error names the
block it stands in (file and line) like any other setting.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.config.durations import Duration
from vigil.errors import ConfigError

# The module, not its function: the registry imports responders that import config
# modules, so it may still be initialising when this module is.
from vigil.respond import registry

Level = Literal["informational", "low", "medium", "high", "critical"]


class _Strict(BaseModel):
    # Validators are built on first use, not at import (see vigil.config.loader._defaults).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class AlertSelector(_Strict):
    """Which alerts a response rule answers; every given part must match."""

    rule: str = Field(default="*", description="rule name or id; * and ? wildcards")
    tags: list[str] = Field(default_factory=list, description="tags the alert must all carry")
    level: Level | None = Field(default=None, description="lowest level answered")
    entity: dict[str, str] = Field(
        default_factory=dict, description="entity field → value, CIDR or glob; all must match"
    )


class ResponseRule(_Strict):
    name: str | None = Field(default=None, description="shown in records and the audit")
    match: AlertSelector = Field(default_factory=AlertSelector)
    responder: str = Field(description="a key of responders: (or a responder type)")
    target: str = Field(default="source.ip", description="entity field that names the target")
    ttl: Duration = Field(default=timedelta(hours=1), description="how long the action holds")
    escalate: list[Duration] = Field(
        default_factory=list,
        description="ttl of the 1st, 2nd, ... action on one target within respond.lookback",
    )
    approval: bool = Field(default=False, description="wait as pending for `actions approve`")
    ipv6_prefix: int | None = Field(
        default=None, ge=1, le=128, description="block the whole IPv6 prefix (e.g. 64)"
    )

    @field_validator("ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("ttl must be longer than 0 s")
        return value

    @field_validator("escalate")
    @classmethod
    def _positive_steps(cls, value: list[timedelta]) -> list[timedelta]:
        if any(step <= timedelta(0) for step in value):
            raise ValueError("every escalation step must be longer than 0 s")
        return value


class MaxPrefix(_Strict):
    """The widest block allowed, per address family (a shorter prefix is refused)."""

    ipv4: int = Field(default=24, ge=0, le=32)
    ipv6: int = Field(default=48, ge=0, le=128)

    def as_dict(self) -> dict[int, int]:
        return {4: self.ipv4, 6: self.ipv6}


class RespondSettings(_Strict):
    mode: Literal["dry-run", "enforce"] = Field(
        default="dry-run", description="enforce runs responders; dry-run only plans"
    )
    rules: list[ResponseRule] = Field(default_factory=list)
    allowlist: list[str] = Field(
        default_factory=list, description="CIDRs never acted on (host and SSH peer are added)"
    )
    max_prefix: MaxPrefix = Field(default_factory=MaxPrefix)
    rate_limit: int | None = Field(
        default=60, ge=1, description="most automatic actions per minute; null: no limit"
    )
    lookback: Duration = Field(
        default=timedelta(weeks=1), description="how long an earlier action counts for escalation"
    )

    @field_validator("allowlist")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or CIDR: {item!r}") from None
        return value


class ResponderConfig(BaseModel):
    """One `responders:` entry: its registry type and its validated settings."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    type: str
    settings: BaseModel

    @model_validator(mode="before")
    @classmethod
    def _validate_by_type(cls, data: Any) -> Any:
        if isinstance(data, ResponderConfig):
            return data
        if not isinstance(data, dict):
            raise ValueError("a responder is a mapping with a type: and its settings")
        rest = dict(data)
        type_ = rest.pop("type", None)
        if not isinstance(type_, str):
            raise ValueError("a responder needs type: (e.g. nftables)")
        try:
            factory = registry.get_responder(type_)
        except ConfigError as e:
            raise ValueError(e.message) from None
        try:
            settings = factory.Settings.model_validate(rest)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            what = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            raise ValueError(f"{where + ': ' if where else ''}{what}") from None
        return {"type": type_, "settings": settings}
