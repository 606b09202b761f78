"""Settings of `notify:` in vigil.yaml: channels (apprise URLs), their selectors,
templates and digests, and the outbox's retry policy.

Everything that can be checked without sending is checked here, so a typo in a URL
or a template is reported at load time with its file:line, not at 3 a.m. when the
first alert tries to leave.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.config.durations import Duration

NotifyLevel = Literal["informational", "low", "medium", "high", "critical"]
LEVEL_RANK: dict[str, int] = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

MessageFormat = Literal["text", "markdown", "html"]

# A built-in template is a bare name; anything else is a path to a template file.
BUILTIN_NAME = re.compile(r"[a-z][a-z0-9_-]*")
BUILTIN_TEMPLATES = ("default", "slack")

CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


class _Strict(BaseModel):
    # Validators are built on first use, not at import (see vigil.config.loader._defaults).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class TemplateOverride(_Strict):
    """Inline Jinja2 templates; a part left out keeps the built-in one."""

    subject: str | None = Field(default=None, description="one line; newlines are folded")
    body: str | None = None

    @field_validator("subject", "body")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            # Imported here: the notify package imports this module for its settings.
            from vigil.notify.templates import check_source  # noqa: PLC0415

            check_source(value)
        return value


class RetrySettings(_Strict):
    attempts: int = Field(default=8, ge=1, le=100, description="tries before a message fails")
    backoff: Duration = Field(default=timedelta(seconds=30), description="wait after 1st failure")
    max_backoff: Duration = Field(default=timedelta(hours=1), description="longest wait")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.backoff <= timedelta(0):
            raise ValueError("backoff must be longer than 0 s")
        if self.max_backoff < self.backoff:
            raise ValueError("max_backoff must be at least backoff")
        return self

    def delay(self, failures: int) -> timedelta:
        """Wait after the `failures`-th failed attempt: doubling, capped."""
        factor = 2 ** min(max(failures - 1, 0), 30)
        # Compared before multiplying: a backoff of a day or more times 2^30 is past
        # timedelta's range (OverflowError), though max_backoff caps it far below.
        if self.backoff > self.max_backoff / factor:
            return self.max_backoff
        delay: timedelta = self.backoff * factor
        return delay


class ChannelSettings(_Strict):
    url: str | None = Field(default=None, description="apprise URL, e.g. mailtos://...")
    url_env: str | None = Field(
        default=None, description="name of the environment variable holding the URL"
    )
    min_level: NotifyLevel = Field(default="informational", description="lowest level sent")
    rules: list[str] = Field(
        default_factory=list, description="rule names or ids (* ? globs); empty: all"
    )
    tags: list[str] = Field(
        default_factory=list, description="the alert must carry one of these tags (globs)"
    )
    digest: Duration | None = Field(
        default=None, description="collect alerts for this long and send one message"
    )
    template: str | TemplateOverride = Field(
        default="default", description="built-in name (default, slack), a file, or overrides"
    )
    format: MessageFormat = Field(default="text", description="body format: text|markdown|html")
    evidence: int = Field(default=5, ge=0, le=50, description="evidence lines per alert")

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_apprise_url(value)
        return value

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not ENV_NAME.fullmatch(value):
            raise ValueError(f"not an environment variable name: {value!r}")
        # Set now: check it like a written URL. Unset: the CLI may run without the
        # service's environment; delivery reports it then.
        if os.environ.get(value):
            check_apprise_url(os.environ[value], origin=f"${value}")
        return value

    @field_validator("template", mode="before")
    @classmethod
    def _overrides(cls, value: object) -> object:
        """Validate a mapping as overrides here, so that its error is reported as such
        and not as "not a string"."""
        if not isinstance(value, dict):
            return value
        try:
            return TemplateOverride.model_validate(value)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            what = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            what = str(what).removeprefix("Value error, ")
            raise ValueError(f"{where + ': ' if where else ''}{what}") from None

    @field_validator("template")
    @classmethod
    def _template_exists(cls, value: str | TemplateOverride) -> str | TemplateOverride:
        if isinstance(value, str):
            if BUILTIN_NAME.fullmatch(value):
                if value not in BUILTIN_TEMPLATES:
                    known = ", ".join(BUILTIN_TEMPLATES)
                    raise ValueError(f"no built-in template {value!r} (known: {known})")
            else:
                from vigil.notify.templates import check_file  # noqa: PLC0415

                check_file(Path(value))
        return value

    @field_validator("digest")
    @classmethod
    def _positive_digest(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("digest must be longer than 0 s (or null for one message per alert)")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> ChannelSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a channel needs exactly one of url: or url_env:")
        return self

    @model_validator(mode="after")
    def _template_renders(self) -> ChannelSettings:
        """An operator's template is tried on a made-up alert, as a single message and as
        a digest, so a misspelt variable fails at load and not on the first attack."""
        if self.template in BUILTIN_TEMPLATES:
            return self
        from vigil.notify.message import message_context, sample_item  # noqa: PLC0415
        from vigil.notify.templates import MessageTemplate  # noqa: PLC0415

        template = MessageTemplate(self.template, self.format)
        items = [sample_item(_SAMPLE_TIME)]
        template.render(message_context(items, channel="check", digest=False))
        template.render(
            message_context(items * 2, channel="check", digest=True, period=(_SAMPLE_TIME,) * 2)
        )
        return self

    def resolve_url(self) -> str:
        """The apprise URL to send to; ValueError when its environment variable is unset."""
        if self.url is not None:
            return self.url
        assert self.url_env is not None  # the validator wants exactly one
        value = os.environ.get(self.url_env)
        if not value:
            raise ValueError(f"environment variable {self.url_env} (url_env) is not set")
        return value


class NotifySettings(_Strict):
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)

    @field_validator("channels")
    @classmethod
    def _names(cls, value: dict[str, ChannelSettings]) -> dict[str, ChannelSettings]:
        for name in value:
            if not CHANNEL_NAME.fullmatch(name):
                raise ValueError(f"channel name {name!r}: use letters, digits, '_', '-' and '.'")
        return value


def check_apprise_url(url: str, origin: str = "url") -> None:
    """ValueError unless apprise has a plugin that accepts `url`. The message never
    repeats the URL: it may hold a password or a token."""
    from vigil.notify.channels import apprise_plugin  # noqa: PLC0415 - apprise loads slowly

    scheme = url.partition("://")[0] if "://" in url else ""
    if apprise_plugin(url) is None:
        what = f"scheme {scheme!r}" if scheme and len(scheme) < 20 else "no scheme"
        raise ValueError(
            f"{origin} is not a notification URL apprise accepts ({what}; see "
            "https://github.com/caronc/apprise/wiki for the URL of each service)"
        )
