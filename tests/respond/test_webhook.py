"""The webhook responder against a real HTTP receiver on loopback: the JSON it posts,
its headers and signature, the Slack format, retries on transient failures only."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.notify.factories import T0
from tests.notify.receivers import HTTPReceiver, free_port, http_receiver
from vigil.clock import FixedClock
from vigil.config.loader import load_config
from vigil.errors import ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind, ActionState
from vigil.respond.registry import RESPONDERS
from vigil.respond.webhook import WebhookResponder, WebhookSettings


def _action(**kw: object) -> Action:
    fields: dict[str, object] = {
        "responder": "soar",
        "kind": ActionKind.BLOCK,
        "target": "203.0.113.7",
        "ttl": timedelta(hours=1),
        "created_at": T0,
        "state": ActionState.APPLIED,
        "alert_id": "a1",
        "rule_name": "firewall_connection_flood",
        "reason": "Connection flood from one source to one destination",
    }
    fields.update(kw)
    return Action(**fields)  # type: ignore[arg-type]


class Sleeps:
    """Records the waits between retries, and can run a step on each (to bring a
    receiver back)."""

    def __init__(self, on_sleep: object = None) -> None:
        self.waits: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if callable(self.on_sleep):
            self.on_sleep()


def _responder(url: str, sleep: Sleeps | None = None, **settings: object) -> WebhookResponder:
    return WebhookResponder(
        WebhookSettings(url=url, **settings),  # type: ignore[arg-type]
        ResponderContext(FixedClock(T0)),
        sleep=sleep or Sleeps(),
    )


@pytest.fixture
def http() -> Iterator[HTTPReceiver]:
    with http_receiver() as receiver:
        yield receiver


def test_act_posts_action_and_alert_json(http: HTTPReceiver) -> None:
    """act POSTs event, the action record and the alert it answers, as JSON."""
    alert = {"id": "a1", "entity": {"source.ip": "203.0.113.7"}, "count": 120}
    _responder(f"http://127.0.0.1:{http.port}/hook").act(_action(params={"alert": alert}))
    (post,) = http.wait(1)
    doc = post.json()
    assert doc["event"] == "act" and doc["alert"] == alert
    assert doc["action"]["target"] == "203.0.113.7" and doc["action"]["ttl"] == 3600
    assert doc["action"]["state"] == "applied" and doc["sent_at"] == "2026-11-22T10:00:00Z"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Idempotency-Key"].endswith(":act")


def test_alert_summary_when_no_alert_document(http: HTTPReceiver) -> None:
    """Without the alert in the action's params, its id, rule and title are sent."""
    _responder(f"http://127.0.0.1:{http.port}/").act(_action())
    assert http.wait(1)[0].json()["alert"] == {
        "id": "a1",
        "rule_name": "firewall_connection_flood",
        "title": "Connection flood from one source to one destination",
    }


def test_token_signature_and_headers(http: HTTPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bearer token and HMAC key come from the environment; the signature verifies
    against the body as received; operator headers are sent."""
    monkeypatch.setenv("VIGIL_TEST_TOKEN", "tok-123")
    monkeypatch.setenv("VIGIL_TEST_SECRET", "key-456")
    _responder(
        f"http://127.0.0.1:{http.port}/hook",
        token_env="VIGIL_TEST_TOKEN",
        secret_env="VIGIL_TEST_SECRET",
        headers={"X-Tenant": "blue"},
    ).act(_action())
    (post,) = http.wait(1)
    assert post.headers["Authorization"] == "Bearer tok-123"
    assert post.headers["X-Tenant"] == "blue"
    expected = hmac.new(b"key-456", post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Vigil-Signature"] == f"sha256={expected}"


def test_missing_token_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset token variable fails the action before anything is sent, naming it."""
    monkeypatch.delenv("VIGIL_TEST_TOKEN", raising=False)
    responder = _responder("http://127.0.0.1:9/", token_env="VIGIL_TEST_TOKEN")
    with pytest.raises(ResponderError, match=r"VIGIL_TEST_TOKEN \(token_env\) is not set"):
        responder.act(_action())


def test_slack_format(http: HTTPReceiver) -> None:
    """format: slack posts exactly {"text": ...} with the action in Slack mrkdwn."""
    _responder(f"http://127.0.0.1:{http.port}/services/T/B/X", format="slack").act(
        _action(target="2001:db8::/64", rule_name="a<b>")
    )
    assert http.wait(1)[0].json() == {
        "text": ":shield: vigil: *block* `2001:db8::/64` for 1h via soar "
        "(rule `a&lt;b&gt;`): *applied*"
    }


def test_revert_posts_unless_disabled(http: HTTPReceiver) -> None:
    """revert POSTs a revert event; with on_revert false it sends nothing."""
    url = f"http://127.0.0.1:{http.port}/"
    _responder(url, on_revert=False).revert(_action())
    _responder(url).revert(_action())
    (post,) = http.wait(1)
    assert post.json()["event"] == "revert" and len(http.posts) == 1


def test_transient_failure_is_retried_with_backoff(http: HTTPReceiver) -> None:
    """A 503 is retried after the backoff; the retry's success makes act succeed."""
    http.status = 503
    sleeps = Sleeps(on_sleep=lambda: setattr(http, "status", 200))
    _responder(f"http://127.0.0.1:{http.port}/", sleeps, retries=3, backoff_seconds=2).act(
        _action()
    )
    assert sleeps.waits == [2] and len(http.wait(2)) == 2


def test_client_error_is_not_retried(http: HTTPReceiver) -> None:
    """A 400 fails at once, naming the status."""
    http.status = 400
    sleeps = Sleeps()
    with pytest.raises(ResponderError, match=r"webhook to http://127.0.0.1:\d+ failed: HTTP 400"):
        _responder(f"http://127.0.0.1:{http.port}/", sleeps, retries=3).act(_action())
    assert sleeps.waits == [] and len(http.posts) == 1


def test_receiver_down_fails_after_retries_without_path() -> None:
    """With nothing listening, every retry is made with doubling waits, and the error
    names host and port but not the URL's path (it may hold a token)."""
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{free_port()}/services/SECRET-TOKEN"
    with pytest.raises(ResponderError, match="cannot connect") as info:
        _responder(url, sleeps, retries=2, backoff_seconds=0.5).act(_action())
    assert sleeps.waits == [0.5, 1.0]
    assert "SECRET-TOKEN" not in str(info.value)


def test_silent_receiver_times_out() -> None:
    """A receiver that accepts the connection and never answers fails after the timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        with pytest.raises(ResponderError, match=r"no answer within 0\.3 s"):
            _responder(url, retries=0, timeout_seconds=0.3).act(_action())


def test_redirect_is_not_followed(http: HTTPReceiver) -> None:
    """A 302 is a failure; the POST is not repeated at the other address."""
    http.status = 302
    with pytest.raises(ResponderError, match="HTTP 302"):
        _responder(f"http://127.0.0.1:{http.port}/").act(_action())
    assert len(http.posts) == 1


def test_check_holds_nothing() -> None:
    """A webhook cannot be asked what it holds."""
    assert _responder("http://127.0.0.1:9/").check() is None
    assert RESPONDERS["webhook"] is WebhookResponder and WebhookResponder.kind == ActionKind.CALL


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "ftp://example.org/x"}, "must be http:// or https://"),
        ({"url": "http:///nohost"}, "must be http:// or https://"),
        ({"url": "http://h/", "headers": {"X-A": "1\r\nX-B: 2"}}, "control characters"),
        ({"url": "http://h/", "headers": {"Authorization": "x"}}, "set by vigil"),
        ({"url": "http://h/", "token_env": "not a name"}, "not an environment variable"),
    ],
)
def test_settings_are_checked(settings: dict[str, object], message: str) -> None:
    """URLs, headers and variable names are checked when the settings load."""
    with pytest.raises(ValidationError, match=message):
        WebhookSettings(**settings)  # type: ignore[arg-type]


def test_configured_under_responders(tmp_path: Path) -> None:
    """A `responders:` entry of type webhook loads with its settings."""
    path = tmp_path / "vigil.yaml"
    path.write_text(
        "responders:\n  soar:\n    type: webhook\n    url: https://soar.example.org/vigil\n"
        "    token_env: SOAR_TOKEN\n    retries: 2\n"
    )
    settings = load_config(path).responders["soar"].settings
    assert isinstance(settings, WebhookSettings) and settings.retries == 2
    assert json.loads(settings.model_dump_json())["token_env"] == "SOAR_TOKEN"
