"""A notification channel: which alerts it takes, how its messages look, and delivery
through apprise.

Apprise is used through its Python API with an asset that keeps nothing on disk
(persistent storage in memory, no PGP/PEM key generation), one fresh plugin per message
(its throttle state would otherwise carry over), and synchronous sends. Its `notify()`
answers only success or failure; the reason lives in its log records, which apprise
also collects per service into the result when asked for (`log_level`). vigil turns
them into the one-line `last_error` of the outbox, with the URL's secrets scrubbed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from apprise import AppriseAsset
from apprise.common import PersistentStoreMode

from vigil.alerts.model import Alert
from vigil.config.notify import LEVEL_RANK, ChannelSettings
from vigil.errors import ConfigError
from vigil.notify.templates import MessageTemplate

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

MAX_ERROR = 500
# Seconds one service may take, retries and waits included.
SERVICE_TIMEOUT = 30.0
# Apprise's debug records that carry the cause of a failure (the warnings only say
# "connection error").
_CAUSES = ("Socket Exception", "Response Details", "Exception")
_SECRET_KEY = re.compile(r"pass|pw|token|key|secret|auth|sig", re.IGNORECASE)


def apprise_asset() -> AppriseAsset:
    return AppriseAsset(
        storage_mode=PersistentStoreMode.MEMORY,
        service_timeout=SERVICE_TIMEOUT,
        async_mode=False,
        pgp_autogen=False,
        pem_autogen=False,
        secure_logging=True,
    )


def apprise_plugin(url: str) -> NotifyBase | None:
    """Apprise's plugin for `url`, or None when no plugin accepts it."""
    with _quiet_apprise(logging.CRITICAL):
        plugin: NotifyBase | None = apprise.Apprise.instantiate(url, asset=apprise_asset())
    return plugin


@dataclass(frozen=True)
class Delivery:
    ok: bool
    error: str | None = None


class Channel:
    def __init__(self, name: str, settings: ChannelSettings) -> None:
        self.name = name
        self.settings = settings
        try:
            self.template = MessageTemplate(settings.template, settings.format)
        except ValueError as e:
            # The file was there when the config loaded; it is gone or broken now.
            raise ConfigError(f"notify.channels.{name}.template: {e}") from None
        self._min_rank = LEVEL_RANK[settings.min_level]

    def selects(self, alert: Alert) -> bool:
        """The alert meets the channel's minimum level, one of its rules and one of its tags
        (an empty list of rules or tags takes any)."""
        if LEVEL_RANK.get(alert.level, 1) < self._min_rank:
            return False
        s = self.settings
        if s.rules and not any(
            fnmatchcase(alert.rule_name, g) or fnmatchcase(alert.rule_id, g) for g in s.rules
        ):
            return False
        return not s.tags or any(fnmatchcase(t, g) for t in alert.tags for g in s.tags)

    def send(self, subject: str, body: str, notify_type: str = "info") -> Delivery:
        """Deliver one message now."""
        try:
            url = self.settings.resolve_url()
        except ValueError as e:
            return Delivery(False, str(e))
        plugin = apprise_plugin(url)
        if plugin is None:
            return Delivery(False, "the URL is not one apprise accepts")
        sender = apprise.Apprise(asset=apprise_asset())
        sender.add(plugin)
        with _quiet_apprise(logging.DEBUG):
            try:
                result = sender.notify(
                    body=body,
                    title=subject,
                    body_format=self.settings.format,
                    notify_type=notify_type,
                    log_level=logging.DEBUG,
                )
            # Apprise plugins are third-party code talking to the network; whatever one
            # raises is this message's failure, not the caller's crash.
            except Exception as e:
                return Delivery(False, _scrub(f"apprise raised {type(e).__name__}: {e}", url))
        if result:
            return Delivery(True)
        return Delivery(False, _scrub(_reason(result), url))


def _reason(result: Any) -> str:
    lines: list[str] = []
    entries = [e for r in result.results for e in r.logs()]
    entries += list(result.call_logs())
    for entry in entries:
        message = " ".join(str(entry.message).split())
        telling = entry.level in ("WARNING", "ERROR", "CRITICAL") or message.startswith(_CAUSES)
        if telling and message and message not in lines:
            lines.append(message)
    if not lines:
        lines.append(f"apprise reported {getattr(result.status, 'name', result.status)}")
    text = "; ".join(lines)
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _secrets(url: str) -> list[str]:
    """The parts of an apprise URL that may be credentials: user and password, long path
    segments (Slack, Discord and Telegram put tokens there) and query values that are
    named like secrets or long enough to be tokens."""
    try:
        parts = urlsplit(url)
        found = [parts.password or "", parts.username or ""]
    except ValueError:
        return []
    found += [s for s in (unquote(p) for p in parts.path.split("/")) if len(s) >= 8]
    found += [v for k, v in parse_qsl(parts.query) if _SECRET_KEY.search(k) or len(v) >= 16]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


@contextmanager
def _quiet_apprise(level: int) -> Iterator[None]:
    """Let apprise's logger emit records down to `level` into its own capture, without
    passing them on to vigil's log handlers (its debug output includes payloads)."""
    logger = logging.getLogger(apprise.LOGGER_NAME)
    saved = (logger.level, logger.propagate)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
