"""Build the detection stage from the operator's configuration (shared by every mode)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vigil.alerts.gate import AlertGate
from vigil.alerts.shelf import SpillShelf
from vigil.clock import Clock
from vigil.config.models import SettingError, VigilConfig
from vigil.detect.rulepack import RulePack, load_pack
from vigil.detect.stage import DetectionStage
from vigil.errors import ConfigError
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB


def rule_pack_from_config(
    config: VigilConfig,
    extra: Sequence[str | Path] = (),
    *,
    default_pack: bool = True,
    cache_dir: Path | None = None,
) -> RulePack:
    """The configured rules; a rule file that does not load stops the run (exit 78):
    running without a rule the operator asked for would be a silent gap. `cache_dir`:
    keep the compiled pack there between runs (see `pack_cache`)."""
    try:
        pack = load_pack(
            [*config.rules.paths, *extra],
            include_default=config.rules.default_pack and default_pack,
            disabled=config.rules.disabled,
            overrides=config.rules.overrides,
            cache_dir=cache_dir,
        )
    except SettingError as e:
        # A setting the loaded rules contradict: point at its line in vigil.yaml.
        raise ConfigError(e.message, config.locate(e.key)) from None
    if pack.errors:
        first = pack.errors[0]
        more = (
            f" (and {len(pack.errors) - 1} more; see `vigil rules check`)"
            if len(pack.errors) > 1
            else ""
        )
        raise ConfigError(f"rule does not load: {first.message}{more}", first.location)
    return pack


def detection_stage(
    config: VigilConfig, pack: RulePack, clock: Clock, db: StateDB | None
) -> DetectionStage:
    gate = AlertGate(
        clock,
        throttle=config.alerts.throttle,
        suppressions=[s.build() for s in config.suppressions],
        # Committed beside detection, by a thread of the repository's (the stage's close
        # waits for it).
        repository=AlertRepository(db, background=True) if db is not None else None,
        max_evidence=config.alerts.max_evidence,
        # With a store, a run can be a replay of months raising 10^5 alerts: they wait
        # for the report on disk, not in memory.
        shelf=SpillShelf() if db is not None else None,
    )
    return DetectionStage(pack, gate, clock, max_evidence=config.alerts.max_evidence)
