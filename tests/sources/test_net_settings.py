"""Settings of the network and journald sources: defaults, listen addresses, and the
combinations that cannot work refused with the reason."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from vigil.sources.net_settings import (
    HttpSettings,
    JournaldSettings,
    NetSourceSettings,
    SyslogSettings,
    parse_listen,
)

ADAPTER: TypeAdapter[SyslogSettings | HttpSettings | JournaldSettings] = TypeAdapter(
    NetSourceSettings
)


def test_types_pick_their_model_with_safe_defaults():
    """`type` selects the model; listeners default to loopback; http reads jsonl."""
    syslog = ADAPTER.validate_python({"type": "syslog"})
    assert isinstance(syslog, SyslogSettings)
    assert (syslog.protocol, syslog.listen, syslog.format, syslog.max_message) == (
        "udp",
        "127.0.0.1:5514",
        "syslog",
        65536,
    )
    http = ADAPTER.validate_python({"type": "http", "token_env": "VIGIL_INGEST_TOKEN"})
    assert isinstance(http, HttpSettings)
    assert (http.listen, http.format) == ("127.0.0.1:8514", "jsonl")
    journal = ADAPTER.validate_python({"type": "journald", "units": ["ssh.service"]})
    assert isinstance(journal, JournaldSettings)
    assert journal.start_at == "end"


def test_listen_addresses():
    """HOST:PORT, [IPv6]:PORT and port 0 are taken; the rest say what is wrong."""
    assert parse_listen("0.0.0.0:514") == ("0.0.0.0", 514)
    assert parse_listen("[2001:db8::1]:6514") == ("2001:db8::1", 6514)
    assert parse_listen("localhost:0") == ("localhost", 0)
    with pytest.raises(ValueError, match="port must be a number 0-65535"):
        parse_listen("127.0.0.1:70000")
    with pytest.raises(ValueError, match=r"write an IPv6 address as \[addr\]:port"):
        parse_listen("::1:514")
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_listen("514")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "syslog", "protocol": "tls"}, "protocol tls needs tls_cert and tls_key"),
        ({"type": "syslog", "tls_cert": "/c.pem"}, "need protocol tls, not udp"),
        ({"type": "syslog", "format": "nope"}, "unknown format 'nope'"),
        ({"type": "syslog", "listen": "x:y"}, "port must be a number"),
        ({"type": "syslog", "colour": "red"}, "Extra inputs are not permitted"),
        ({"type": "http"}, "give exactly one of token and token_env"),
        ({"type": "http", "token": "short"}, "at least 16 characters"),
        ({"type": "http", "token_env": "NOT-A-NAME"}, "is not an environment variable name"),
        ({"type": "journald", "units": ["--since=yesterday"]}, "is not a unit or identifier"),
        ({"type": "smoke"}, "does not match any of the expected tags"),
    ],
)
def test_impossible_settings_are_refused(data, message):
    """Each impossible combination is a validation error naming the problem."""
    with pytest.raises(ValidationError, match=message):
        ADAPTER.validate_python(data)
