"""`notify:` in vigil.yaml: what loads, and errors located at file:line that never echo a
URL's secrets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vigil.config.loader import load_config
from vigil.config.notify import RetrySettings
from vigil.errors import ConfigError

GOOD = """\
notify:
  channels:
    mail:
      url: "mailtos://alerts:pw@mail.example.org?to=soc@example.org"
      min_level: high
      rules: [firewall_*, port_scan]
      digest: 5m
      format: html
    chat:
      url_env: VIGIL_TEST_CHAT_URL
      template: slack
  retry: {attempts: 4, backoff: 10s, max_backoff: 5m}
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return load_config(path)


def test_full_notify_section_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels with selectors, digest, format, template and a retry policy load."""
    monkeypatch.delenv("VIGIL_TEST_CHAT_URL", raising=False)
    cfg = load_config(_write(tmp_path, GOOD))
    mail = cfg.notify.channels["mail"]
    assert mail.digest == timedelta(minutes=5) and mail.format == "html"
    assert mail.rules == ["firewall_*", "port_scan"]
    assert cfg.notify.channels["chat"].template == "slack"
    assert cfg.notify.retry.attempts == 4


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def _channel(body: str) -> str:
    return "notify:\n  channels:\n    ops:\n" + body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _channel("      url: 'nosuch://user:hunter22@example.org'\n"),
            r"notify.channels.ops.url: url is not a notification URL apprise accepts "
            r"\(scheme 'nosuch'.*\(at .*vigil.yaml:4:7\)",
        ),
        (
            _channel("      min_level: high\n"),
            r"notify.channels.ops: a channel needs exactly one of url: or url_env: "
            r"\(at .*vigil.yaml:3:5\)",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      digest: 0s\n"),
            r"notify.channels.ops.digest: digest must be longer than 0 s .*vigil.yaml:5:7",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      template: fancy\n"),
            r"no built-in template 'fancy' \(known: default, slack\) .*vigil.yaml:5:7",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      template: /nonexistent/t.j2\n"),
            r"cannot read template /nonexistent/t.j2.*vigil.yaml:5:7",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      template: {body: '{% for %}'}\n"),
            r"ops.template: body: template does not compile: .*\(template line 1\)"
            r".*vigil.yaml:5:7",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      template: {subject: '{{ nope.x }}'}\n"),
            r"notify.channels.ops: the subject template failed: 'nope' is undefined",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      format: pdf\n"),
            r"notify.channels.ops.format: .*'text', 'markdown' or 'html'.*vigil.yaml:5:7",
        ),
        (
            _channel("      url: json://127.0.0.1/x\n      colour: red\n"),
            r"notify.channels.ops.colour: unknown setting \(at .*vigil.yaml:5:7\)",
        ),
        (
            "notify:\n  retry: {backoff: 1h, max_backoff: 1m}\n",
            r"notify.retry: max_backoff must be at least backoff \(at .*vigil.yaml:2:3\)",
        ),
        (
            "notify:\n  channels:\n    'bad name!': {url: json://127.0.0.1/x}\n",
            r"channel name 'bad name!': use letters",
        ),
    ],
)
def test_errors_are_located(tmp_path: Path, text: str, message: str) -> None:
    """Each invalid notify setting is reported with the setting's path and file:line."""
    with pytest.raises(ConfigError, match=message) as info:
        load_config(_write(tmp_path, text))
    assert "hunter22" not in str(info.value)


def test_url_env_is_checked_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A url_env variable that is set must hold a URL apprise accepts; its value is not
    repeated in the error."""
    monkeypatch.setenv("VIGIL_TEST_CHAT_URL", "nosuch://token-abcdef")
    text = _channel("      url_env: VIGIL_TEST_CHAT_URL\n")
    with pytest.raises(ConfigError, match=r"\$VIGIL_TEST_CHAT_URL is not a notification URL") as e:
        load_config(_write(tmp_path, text))
    assert "token-abcdef" not in str(e.value)


def test_template_file_with_blocks(tmp_path: Path) -> None:
    """A template file defining a subject block loads; one defining neither block does not."""
    good = tmp_path / "mail.j2"
    good.write_text("{% block subject %}ALERT {{ alerts|length }}{% endblock %}")
    load_config(_write(tmp_path, _channel(f"      url: json://h/x\n      template: {good}\n")))
    bad = tmp_path / "plain.j2"
    bad.write_text("just {{ alerts }}")
    with pytest.raises(ConfigError, match="defines neither"):
        load_config(_write(tmp_path, _channel(f"      url: json://h/x\n      template: {bad}\n")))


def test_backoff_doubles_up_to_the_cap() -> None:
    """The wait after the n-th failure is backoff * 2^(n-1), never above max_backoff."""
    retry = RetrySettings(backoff=timedelta(seconds=30), max_backoff=timedelta(minutes=5))
    waits = [retry.delay(n).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]


def test_backoff_of_days_reaches_its_cap_without_overflow() -> None:
    """A long backoff doubled 30 times is capped by max_backoff, not an OverflowError."""
    retry = RetrySettings(backoff=timedelta(days=2), max_backoff=timedelta(days=366))
    assert [retry.delay(n) for n in (1, 2, 9, 40)] == [
        timedelta(days=2),
        timedelta(days=4),
        timedelta(days=366),
        timedelta(days=366),
    ]
