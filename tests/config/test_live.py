"""`sources:` and `live:` in vigil.yaml: types by discriminator, names, directory
patterns, and errors located at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config.live import DirSourceSettings, FileSourceSettings
from vigil.config.loader import load_config
from vigil.errors import ConfigError
from vigil.sources.net_settings import SyslogSettings


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return load_config(path)


def test_sources_by_type_with_defaults(tmp_path: Path) -> None:
    """Each source is built by its type; defaults fill the rest."""
    cfg = load(
        tmp_path,
        "sources:\n"
        "  auth: {type: file, paths: [/var/log/auth.log]}\n"
        "  web: {type: dir, paths: [/var/log/nginx], pattern: '*.log', recursive: true}\n"
        "  relay: {type: syslog, protocol: udp, listen: '127.0.0.1:5514'}\n",
    )
    sources = cfg.sources  # type: ignore[attr-defined]
    assert isinstance(sources["auth"], FileSourceSettings)
    assert (sources["auth"].start_at, sources["auth"].format) == ("end", None)
    assert isinstance(sources["web"], DirSourceSettings)
    assert sources["web"].patterns() == ["/var/log/nginx/**/*.log"]
    assert isinstance(sources["relay"], SyslogSettings)
    assert cfg.live.batch_lines == 50_000 and cfg.live.metrics == "127.0.0.1:9466"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("sources:\n  auth: {type: tail, paths: [x]}\n", "sources.auth", 2),
        ("sources:\n  auth: {type: file, paths: []}\n", "sources.auth.paths", 2),
        (
            "sources:\n  auth:\n    type: file\n    paths: [x]\n    format: nope\n",
            r"sources\.auth\.format",
            5,
        ),
        ("sources:\n  'bad name': {type: file, paths: [x]}\n", "source name", 1),
        ("live:\n  metrics: nowhere\n", "live.metrics", 2),
        ("live:\n  batch_ms: 0\n", "live.batch_ms", 2),
    ],
)
def test_errors_are_located(tmp_path: Path, text: str, message: str, line: int) -> None:
    """An invalid source or live setting names its key and line."""
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, text)
    assert info.value.location is not None and info.value.location.line == line
