"""The live sources of a configuration, built (not started) by type."""

from __future__ import annotations

from pathlib import Path

from vigil.clock import Clock
from vigil.config.live import DirSourceSettings, FileSourceSettings
from vigil.config.models import VigilConfig
from vigil.live.checkpoints import CheckpointStore
from vigil.live.parsing import SourceFormat
from vigil.sources.http_ingest import HttpIngestSource
from vigil.sources.journald import JournaldSource, default_cursor_path
from vigil.sources.live import LiveSource
from vigil.sources.net_settings import HttpSettings, JournaldSettings, SyslogSettings
from vigil.sources.syslog_net import SyslogSource
from vigil.sources.tail import TailSource


def build_sources(
    config: VigilConfig, checkpoints: CheckpointStore, clock: Clock, state_dir: Path
) -> dict[str, LiveSource]:
    out: dict[str, LiveSource] = {}
    for name, s in config.sources.items():
        if isinstance(s, FileSourceSettings | DirSourceSettings):
            patterns = s.paths if isinstance(s, FileSourceSettings) else s.patterns()
            out[name] = TailSource(
                name,
                patterns,
                start_at=s.start_at,
                resume=checkpoints.load(name),
                max_line_bytes=s.max_line_bytes,
                poll_interval=s.poll_interval,
                rotate_wait=s.rotate_wait.total_seconds(),
                clock=clock,
            )
        elif isinstance(s, SyslogSettings):
            out[name] = SyslogSource(name, s, clock)
        elif isinstance(s, HttpSettings):
            out[name] = HttpIngestSource(name, s, clock)
        elif isinstance(s, JournaldSettings):
            cursor = default_cursor_path(state_dir, name)
            out[name] = JournaldSource(name, s, clock, cursor_path=cursor)
    return out


def source_formats(config: VigilConfig) -> dict[str, SourceFormat]:
    out = {}
    for name, s in config.sources.items():
        options = s.options if isinstance(s, FileSourceSettings | DirSourceSettings) else {}
        out[name] = SourceFormat(s.format, dict(options))
    return out
