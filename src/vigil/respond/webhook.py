"""The `webhook` responder: POST the action (and what vigil knows of its alert) as JSON
to a URL, for a SOAR, a ticketing system or a chat.

    {"event": "act" | "revert", "action": {...Action.to_json()...},
     "alert": {...}, "sent_at": "...", "vigil": "<version>"}

With `format: slack` the body is a Slack incoming-webhook document (`{"text": ...}`)
instead. Secrets never stand in vigil.yaml: a bearer token and an HMAC key are read from
the environment variables the settings name. Each request carries `Idempotency-Key`
(action id and event), so a receiver can drop the repeat of a retried POST. Redirects
are not followed (a redirected POST is a misconfigured URL, not something to guess).

Transient failures (no connection, timeout, HTTP 429 and 5xx) are retried with backoff;
other answers fail at once. Nothing is held on the receiver that vigil could list, so
`check()` is None.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import IO, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil import __version__
from vigil.config.durations import format_duration
from vigil.errors import ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
# Set by vigil; an operator header of the same name would be overridden silently.
RESERVED_HEADERS = {"content-type", "content-length", "authorization", "idempotency-key", "host"}
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="http:// or https:// URL the action is POSTed to")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    token_env: str | None = Field(
        default=None, description="environment variable holding a bearer token"
    )
    secret_env: str | None = Field(
        default=None,
        description="environment variable holding an HMAC key: X-Vigil-Signature: sha256=<hex>",
    )
    format: Literal["json", "slack"] = Field(default="json", description="body: json|slack")
    timeout_seconds: float = Field(default=5.0, gt=0, le=300, description="per request")
    retries: int = Field(default=1, ge=0, le=10, description="more tries on transient failures")
    backoff_seconds: float = Field(
        default=1.0, ge=0, le=300, description="wait before the 1st retry; doubled after"
    )
    on_revert: bool = Field(default=True, description="also POST when the action is undone")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook url must be http:// or https:// with a host")
        if re.search(r"[\x00-\x20\x7f]", value):
            raise ValueError("the webhook url contains spaces or control characters")
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f"not a header name: {name!r}")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name} is set by vigil (use token_env for a token)")
            if re.search(r"[\x00-\x1f\x7f]", text):
                raise ValueError(f"header {name} contains control characters")
        return value

    @field_validator("token_env", "secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.fullmatch(value):
            raise ValueError(f"not an environment variable name: {value!r}")
        return value


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        raise urllib.error.HTTPError(
            req.full_url, code, f"{msg}, a redirect to {_shown(newurl)} (not followed)", headers, fp
        )


class WebhookResponder:
    id: ClassVar[str] = "webhook"
    kind: ClassVar[ActionKind] = ActionKind.CALL
    Settings: ClassVar[type[BaseModel]] = WebhookSettings

    def __init__(
        self,
        settings: BaseModel,
        context: ResponderContext | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`sleep` waits between retries (tests pass one that records instead)."""
        if not isinstance(settings, WebhookSettings):
            raise TypeError(f"webhook responder needs WebhookSettings, not {type(settings)}")
        self.settings = settings
        self.context = context or ResponderContext()
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    def act(self, action: Action) -> None:
        self._post(action, "act")

    def revert(self, action: Action) -> None:
        if self.settings.on_revert:
            self._post(action, "revert")

    def check(self) -> set[str] | None:
        return None

    # -- internals ------------------------------------------------------------------

    def document(self, action: Action, event: str) -> dict[str, Any]:
        """The JSON body for `event` on `action`."""
        if self.settings.format == "slack":
            return {"text": _slack_text(action, event)}
        alert = action.params.get("alert")
        return {
            "event": event,
            "action": action.to_json(),
            "alert": alert
            if isinstance(alert, dict)
            else {"id": action.alert_id, "rule_name": action.rule_name, "title": action.reason},
            "sent_at": self.context.clock.now().isoformat().replace("+00:00", "Z"),
            "vigil": __version__,
        }

    def _post(self, action: Action, event: str) -> None:
        body = json.dumps(self.document(action, event), default=str).encode()
        headers = self._headers(body, f"{action.id}:{event}", event)
        error = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self.sleep(self.settings.backoff_seconds * 2 ** (attempt - 1))
            error, transient = self._send(body, headers)
            if not error:
                return
            if not transient:
                break
        where = _shown(self.settings.url)
        raise ResponderError(f"webhook to {where} failed: {error}", final=True)

    def _headers(self, body: bytes, key: str, event: str) -> dict[str, str]:
        headers = {
            **self.settings.headers,
            "Content-Type": "application/json",
            "User-Agent": f"vigil/{__version__}",
            "Idempotency-Key": key,
            "X-Vigil-Event": event,
        }
        if self.settings.token_env:
            headers["Authorization"] = f"Bearer {_env(self.settings.token_env, 'token_env')}"
        if self.settings.secret_env:
            secret = _env(self.settings.secret_env, "secret_env").encode()
            digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
            headers["X-Vigil-Signature"] = f"sha256={digest}"
        return headers

    def _send(self, body: bytes, headers: dict[str, str]) -> tuple[str, bool]:
        """("", _) when the receiver took it; else (why, whether trying again may help)."""
        request = urllib.request.Request(
            self.settings.url, data=body, headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.settings.timeout_seconds) as response:
                response.read(65536)
            return "", False
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code} {e.reason}", e.code in TRANSIENT_STATUS
        except urllib.error.URLError as e:
            return f"cannot connect ({e.reason})", True
        except TimeoutError:
            return f"no answer within {self.settings.timeout_seconds:g} s", True
        except OSError as e:
            return f"connection failed ({e})", True


def _env(name: str, setting: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ResponderError(f"environment variable {name} ({setting}) is not set")
    return value


def _shown(url: str) -> str:
    """Scheme, host and port only: a path or query may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def _slack_text(action: Action, event: str) -> str:
    def esc(value: object) -> str:
        return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    ttl = f" for {format_duration(action.ttl)}" if action.ttl is not None else ""
    rule = f" (rule `{esc(action.rule_name)}`)" if action.rule_name else ""
    what = f"*{esc(action.kind)}* `{esc(action.target)}`"
    if event == "revert":
        return f":leftwards_arrow_with_hook: vigil undid {what} via {esc(action.responder)}{rule}"
    return f":shield: vigil: {what}{ttl} via {esc(action.responder)}{rule}: *{esc(action.state)}*"
