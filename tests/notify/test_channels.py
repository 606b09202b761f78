"""Delivery through apprise to real receivers on loopback, and the channel selectors."""

from __future__ import annotations

import pytest

from tests.notify.factories import flood, scan
from tests.notify.receivers import (
    SMTP_PASSWORD,
    free_port,
    http_receiver,
    mail_text,
    smtp_receiver,
)
from vigil.config.notify import ChannelSettings
from vigil.errors import ConfigError
from vigil.notify.channels import Channel, apprise_plugin

SLACK_KEYS = "?:message=text&:title=&:version=&:type=&:attachments="


def test_mail_reaches_smtp_server_with_login() -> None:
    """A mailto:// channel logs in to a plain-SMTP loopback server and delivers subject and
    body as given."""
    with smtp_receiver() as smtp:
        channel = Channel("mail", ChannelSettings(url=smtp.url()))
        result = channel.send("[vigil] subject line", "first line\nsecond line\n")
        assert result.ok, result.error
        (mail,) = smtp.wait(1)
    assert mail["Subject"] == "[vigil] subject line"
    assert mail["To"] == "ops@example.org"
    assert "first line\nsecond line" in mail_text(mail)
    assert smtp.logins == ["vigil"]


def test_json_webhook_posts_title_and_message() -> None:
    """A json:// channel POSTs apprise's JSON document with the subject and body."""
    with http_receiver() as http:
        channel = Channel("hook", ChannelSettings(url=f"json://127.0.0.1:{http.port}/hook"))
        assert channel.send("the subject", "the body", "failure").ok
        (post,) = http.wait(1)
    assert post.path == "/hook"
    assert post.headers["Content-Type"] == "application/json"
    doc = post.json()
    assert (doc["title"], doc["message"], doc["type"]) == ("the subject", "the body", "failure")


def test_slack_format_through_json_key_mapping() -> None:
    """json:// with apprise's key mapping posts Slack's incoming-webhook document, exactly
    {"text": body}, rendered by the slack template."""
    with http_receiver() as http:
        url = f"json://127.0.0.1:{http.port}/services/T000/B000/XXXX{SLACK_KEYS}"
        channel = Channel("slack", ChannelSettings(url=url, template="slack"))
        assert channel.send("ignored by slack", "*HIGH* `rule`").ok
        (post,) = http.wait(1)
    assert post.path == "/services/T000/B000/XXXX"
    assert post.json() == {"text": "*HIGH* `rule`"}


def test_receiver_down_gives_the_cause() -> None:
    """With nothing listening, the failure says it was a connection error, and why."""
    channel = Channel("hook", ChannelSettings(url=f"json://127.0.0.1:{free_port()}/hook"))
    result = channel.send("s", "b")
    assert not result.ok
    assert result.error is not None
    assert "Connection error" in result.error and "Connection refused" in result.error


def test_http_error_status_is_the_reason() -> None:
    """A receiver answering 500 makes a failure that names the status."""
    with http_receiver(status=500) as http:
        channel = Channel("hook", ChannelSettings(url=f"json://127.0.0.1:{http.port}/hook"))
        result = channel.send("s", "b")
    assert not result.ok
    assert result.error is not None and "500" in result.error


def test_errors_never_show_url_secrets() -> None:
    """A failure to a URL with a token in its path and a password is reported without
    either (the raw cause from requests names the path)."""
    token = "XoXoSecretToken123"
    url = f"json://user:{SMTP_PASSWORD}@127.0.0.1:{free_port()}/services/T0/B0/{token}"
    result = Channel("hook", ChannelSettings(url=url)).send("s", "b")
    assert not result.ok and result.error is not None
    assert "Connection refused" in result.error
    assert token not in result.error and SMTP_PASSWORD not in result.error


def test_unset_url_env_fails_delivery_not_loading(monkeypatch) -> None:
    """A channel whose url_env is unset loads, and its delivery fails naming the variable."""
    monkeypatch.delenv("VIGIL_TEST_HOOK", raising=False)
    channel = Channel("hook", ChannelSettings(url_env="VIGIL_TEST_HOOK"))
    result = channel.send("s", "b")
    assert not result.ok and result.error is not None and "VIGIL_TEST_HOOK" in result.error


def test_url_env_is_read_at_send_time(monkeypatch) -> None:
    """The URL in the named environment variable is the one delivered to."""
    with http_receiver() as http:
        monkeypatch.setenv("VIGIL_TEST_HOOK", f"json://127.0.0.1:{http.port}/from-env")
        channel = Channel("hook", ChannelSettings(url_env="VIGIL_TEST_HOOK"))
        assert channel.send("s", "b").ok
        assert http.wait(1)[0].path == "/from-env"


def test_selector_level_rules_and_tags() -> None:
    """min_level, rule globs and tag globs must all let an alert through."""
    url = "json://127.0.0.1:9/x"
    assert Channel("a", ChannelSettings(url=url, min_level="high")).selects(flood())
    assert not Channel("a", ChannelSettings(url=url, min_level="high")).selects(scan())
    rules = Channel("a", ChannelSettings(url=url, rules=["firewall_*"]))
    assert rules.selects(flood()) and not rules.selects(scan())
    tags = Channel("a", ChannelSettings(url=url, tags=["attack.disc*"]))
    assert tags.selects(scan()) and not tags.selects(flood())


def test_plugin_lookup_knows_supported_urls() -> None:
    """apprise_plugin accepts a supported URL and answers None for an unknown scheme."""
    assert apprise_plugin("mailtos://user:pw@example.org") is not None
    assert apprise_plugin("nosuchscheme://example.org") is None


def test_template_file_gone_since_loading_is_a_config_error(tmp_path) -> None:
    """A template file removed after the config loaded is a config error naming the channel."""
    path = tmp_path / "t.j2"
    path.write_text("{% block body %}x{% endblock %}")
    settings = ChannelSettings(url="json://127.0.0.1:9/x", template=str(path))
    path.unlink()
    with pytest.raises(ConfigError, match=r"notify.channels.ops.template: cannot use template"):
        Channel("ops", settings)
