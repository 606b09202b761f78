"""Settings of the network and journald live sources, as `vigil.yaml` spells them:

    sources:
      relay:   {type: syslog, protocol: udp, listen: "0.0.0.0:514"}
      secure:  {type: syslog, protocol: tls, listen: "0.0.0.0:6514",
                tls_cert: /etc/vigil/tls.crt, tls_key: /etc/vigil/tls.key}
      shipper: {type: http, listen: "127.0.0.1:8514", token_env: VIGIL_INGEST_TOKEN}
      journal: {type: journald, units: [ssh.service], start_at: end}

Unknown keys are errors, like everywhere in `vigil.yaml`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from vigil.errors import UsageError
from vigil.parsers.registry import get_parser

# A syslog message is at most this long unless configured: RFC 5425 asks receivers to take
# 8 KiB and allows more; 64 KiB covers the longest UDP datagram.
DEFAULT_MAX_MESSAGE = 64 * 1024
# A batch closes after this many lines or milliseconds, whichever comes first. polars
# costs ~0.5 ms per batch and the daemon re-batches, so the source only has to amortise
# its hand-over; 50 ms keeps the source's share of the 1 s reaction budget small.
DEFAULT_BATCH_LINES = 1000
DEFAULT_BATCH_MS = 50
# Bytes of undelivered chunks a network source holds before it drops (UDP), pauses
# (TCP) or answers 429 (HTTP).
DEFAULT_QUEUE_BYTES = 64 << 20
MIN_TOKEN_LENGTH = 16

_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")
# systemd unit names and syslog identifiers as journalctl takes them; never an option.
_UNIT = re.compile(r"^[A-Za-z0-9@_.:\\][A-Za-z0-9@_.:\\*?\[\]-]{0,255}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` → (host, port); port 0 asks the system for a free one."""
    text = value.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"listen address {value!r}: write an IPv6 address as [addr]:port")
        ipaddress.IPv6Address(host)
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"listen address {value!r}: expected HOST:PORT")
        if ":" in host:
            raise ValueError(f"listen address {value!r}: write an IPv6 address as [addr]:port")
        if not _HOSTNAME.match(host):
            raise ValueError(f"listen address {value!r}: {host!r} is not a host name or address")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {value!r}: port must be a number 0-65535")
    return host, int(port)


def _check_listen(value: str) -> str:
    parse_listen(value)
    return value.strip()


def _check_format(value: str) -> str:
    try:
        get_parser(value)
    except UsageError as e:
        raise ValueError(e.message) from None
    return value


class _SourceSettings(BaseModel):
    # Validators are built on first use, not at import (see vigil.config.loader._defaults).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    format: str = Field(default="syslog", description="the parser the daemon runs on the lines")
    batch_lines: int = Field(default=DEFAULT_BATCH_LINES, ge=1, le=100_000)
    batch_ms: int = Field(default=DEFAULT_BATCH_MS, ge=1, le=10_000)

    _format = field_validator("format")(_check_format)


class _ListenerSettings(_SourceSettings):
    listen: str
    max_message: int = Field(
        default=DEFAULT_MAX_MESSAGE, ge=64, le=16 << 20, description="bytes; longer is a reject"
    )
    queue_bytes: int = Field(default=DEFAULT_QUEUE_BYTES, ge=1 << 16, le=4 << 30)

    _listen = field_validator("listen")(_check_listen)

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


class SyslogSettings(_ListenerSettings):
    """Syslog over UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425)."""

    type: Literal["syslog"] = "syslog"
    protocol: Literal["udp", "tcp", "tls"] = "udp"
    listen: str = "127.0.0.1:5514"
    tls_cert: Path | None = Field(default=None, description="PEM certificate chain (tls)")
    tls_key: Path | None = Field(default=None, description="PEM private key (tls)")
    tls_client_ca: Path | None = Field(
        default=None, description="PEM CA bundle: when set, clients must present a certificate"
    )
    max_connections: int = Field(default=512, ge=1, le=65_536, description="TCP/TLS peers")
    receive_buffer: int = Field(
        default=4 << 20, ge=1 << 16, le=1 << 30, description="SO_RCVBUF (the kernel may cap it)"
    )
    loop: Literal["auto", "asyncio", "uvloop"] = Field(
        default="auto", description="event loop: uvloop when installed (auto), or asyncio"
    )

    @model_validator(mode="after")
    def _tls_files(self) -> Self:
        if self.protocol == "tls":
            if self.tls_cert is None or self.tls_key is None:
                raise ValueError("protocol tls needs tls_cert and tls_key")
        elif self.tls_cert or self.tls_key or self.tls_client_ca:
            raise ValueError(
                f"tls_cert/tls_key/tls_client_ca need protocol tls, not {self.protocol}"
            )
        return self


class HttpSettings(_ListenerSettings):
    """`POST /ingest` with NDJSON or plain lines, behind a bearer token."""

    type: Literal["http"] = "http"
    listen: str = "127.0.0.1:8514"
    format: str = "jsonl"
    token: SecretStr | None = Field(default=None, description="the bearer token itself")
    token_env: str | None = Field(default=None, description="environment variable holding it")
    max_body: int = Field(default=8 << 20, ge=1024, le=1 << 30, description="bytes per request")
    timeout: float = Field(default=30.0, gt=0, le=3600, description="seconds per socket read")
    max_connections: int = Field(default=64, ge=1, le=4096, description="concurrent clients")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> Self:
        if (self.token is None) == (self.token_env is None):
            raise ValueError("give exactly one of token and token_env")
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token must be at least {MIN_TOKEN_LENGTH} characters")
        return self


class JournaldSettings(_SourceSettings):
    """The systemd journal through `journalctl --follow -o json`."""

    type: Literal["journald"] = "journald"
    units: list[str] = Field(default_factory=list, description="systemd units (-u); all if empty")
    identifiers: list[str] = Field(
        default_factory=list, description="syslog identifiers (-t), e.g. sshd"
    )
    start_at: Literal["end", "beginning"] = Field(
        default="end", description="where to start when no cursor is saved"
    )
    directory: Path | None = Field(
        default=None, description="read journal files from this directory (-D)"
    )

    @field_validator("units", "identifiers")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _UNIT.match(value):
                raise ValueError(f"{value!r} is not a unit or identifier name")
        return values


NetSourceSettings = Annotated[
    SyslogSettings | HttpSettings | JournaldSettings, Field(discriminator="type")
]
