"""Labelled web requests turned into Apache combined access-log lines, one per request.

How a request becomes a line (what the web rules see, through the real `apache` parser):

* client: a distinct address per request, from 198.18.0.0/15 (RFC 2544, benchmarking),
  so every alert names exactly one request and no burst rule can join two;
* time: one second apart from 2026-01-01 00:00:00 UTC; status 200, size 0;
* request line: the method and the target in origin form (`http://localhost:8080` of
  CSIC's absolute URIs dropped, as a server logs a direct request). An access log never
  holds a POST body, so a POST/PUT body is appended to the query string (`?` or `&`):
  it measures the rules on the payload, and the report splits the figures by method so
  the GET rows show what a real log would give;
* escaping as Apache's `%r` does: `\\` and `"` get a backslash, control bytes become
  `\\xhh`; the rest is written as sent;
* user agent: CSIC's own header; for HttpParams a current Firefox string.

HttpParams values are single parameter values, sent as `GET /search?q=<value>`, in two
encodings: `form` (application/x-www-form-urlencoded, what a browser form or the
`requests` library sends: everything but letters, digits and `_.-~` escaped, space as
`+`) and `raw` (only what cannot stand in a query value escaped: space, `#`, `%`, `&`,
`+`, control and non-ASCII characters; what curl or a scanner sends when told to).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

FIRST_CLIENT = (198 << 24) | (18 << 16)
CLIENTS = 1 << 17  # 198.18.0.0/15
START = datetime(2026, 1, 1, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ENCODINGS = ("form", "raw")

_REQUEST_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<target>.+) (?P<version>HTTP/\d\.\d)$")
_ABSOLUTE = re.compile(r"^[a-z]+://[^/]*", re.IGNORECASE)
# What a raw query value cannot hold unescaped (see the module doc).
_RAW_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "#%&+")


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    user_agent: str
    # "anomalous"/"normal" for CSIC; the attack type ("sqli", "norm", ...) for HttpParams.
    label: str
    body: str = ""

    @property
    def attack(self) -> bool:
        return self.label not in ("normal", "norm")

    @property
    def logged_target(self) -> str:
        """The origin-form target, with a POST/PUT body folded into the query."""
        target = _ABSOLUTE.sub("", self.target) or "/"
        if self.body:
            target += ("&" if "?" in target else "?") + self.body
        return target


def access_line(request: Request, index: int) -> str:
    """The combined-format line of the `index`-th request (0-based)."""
    ip = FIRST_CLIENT + 1 + index % (CLIENTS - 2)
    client = ".".join(str(ip >> s & 255) for s in (24, 16, 8, 0))
    when = (START + timedelta(seconds=index)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    req = f"{request.method} {request.logged_target} HTTP/1.1"
    return (
        f'{client} - - [{when}] "{apache_escape(req)}" 200 0 "-" '
        f'"{apache_escape(request.user_agent)}"'
    )


def apache_escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def write_log(requests: list[Request], path: Path) -> None:
    path.write_text("".join(access_line(r, i) + "\n" for i, r in enumerate(requests)), "utf-8")


def csic_requests(path: Path, label: str) -> list[Request]:
    """The requests of one CSIC file (gzip), in file order."""
    with gzip.open(path, "rt", encoding="latin-1", newline="") as f:
        lines = f.read().replace("\r\n", "\n").split("\n")
    return list(_csic(lines, label))


def _csic(lines: list[str], label: str) -> Iterator[Request]:
    i = 0
    while i < len(lines):
        m = _REQUEST_LINE.match(lines[i])
        i += 1
        if m is None:
            continue
        agent, length = "", 0
        while i < len(lines) and lines[i]:
            name, _, value = lines[i].partition(": ")
            if name.lower() == "user-agent":
                agent = value
            elif name.lower() == "content-length" and value.strip().isdigit():
                length = int(value)
            i += 1
        body = ""
        if length:
            # The body is the next non-blank line (after the blank line ending the headers).
            while i < len(lines) and not lines[i]:
                i += 1
            if i < len(lines) and not _REQUEST_LINE.match(lines[i]):
                body = lines[i]
                i += 1
        yield Request(m["method"], m["target"], agent, label, body)


def httpparams_requests(path: Path, encoding: str) -> list[Request]:
    """One `GET /search?q=<value>` per row of `payload_full.csv`."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r} (one of {', '.join(ENCODINGS)})")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        value = row["payload"]
        encoded = quote_plus(value) if encoding == "form" else quote(value, safe=_RAW_SAFE)
        out.append(Request("GET", f"/search?q={encoded}", FIREFOX, row["attack_type"]))
    return out
