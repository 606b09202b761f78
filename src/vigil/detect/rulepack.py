"""The rules a run uses: vigil's bundled pack and the operator's own, checked, with the
operator's overrides applied (thresholds and windows set in vigil.yaml, never by editing
a rule file).

Every rule ends up in exactly one place: compiled, a correlation spec, unsupported (with
the reason), refused (a correlation vigil will not run, with the reason), disabled by the
operator, or a load error with its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from vigil.config.models import RuleOverride
from vigil.detect.correlation.spec import (
    Bound,
    CorrelationKind,
    CorrelationSpec,
    UnsupportedCorrelation,
    spec_from_sigma,
)
from vigil.detect.sigma.compiler import CompiledRule, Unsupported, compile_rules, rule_name
from vigil.detect.sigma.detector import silent_references
from vigil.detect.sigma.loader import RuleLoadError, load_rules
from vigil.errors import ConfigError

_LOWER = ("gt", "gte")


def default_rules_dir() -> Path:
    """The bundled pack: inside the installed package, or `rules/` of a source checkout."""
    packaged = Path(__file__).resolve().parents[1] / "_rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules"


@dataclass
class RulePack:
    compiled: list[CompiledRule] = field(default_factory=list)
    correlations: list[CorrelationSpec] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    refused: list[UnsupportedCorrelation] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    errors: list[RuleLoadError] = field(default_factory=list)
    # Rules that feed a correlation with `generate: false` and so raise no alerts of
    # their own, also when that correlation is disabled or cannot run: disabling
    # ssh_bruteforce must not turn every failed login into an alert.
    quiet: set[str] = field(default_factory=set)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.compiled] + [s.name for s in self.correlations]


def load_pack(
    paths: Sequence[str | Path],
    *,
    include_default: bool = True,
    disabled: Sequence[str] = (),
    overrides: Mapping[str, RuleOverride] | None = None,
) -> RulePack:
    roots: list[str | Path] = [default_rules_dir()] if include_default else []
    roots += list(paths)
    loaded = load_rules(roots)
    pack = RulePack(errors=list(loaded.errors))
    off = set(disabled)
    rules = [r for r in loaded.rules if rule_name(r) not in off and str(r.id) not in off]
    correlations = [c for c in loaded.correlations if rule_name(c) not in off]
    pack.disabled = sorted(
        {rule_name(r) for r in loaded.rules if r not in rules}
        | {rule_name(c) for c in loaded.correlations if c not in correlations}
    )
    pack.compiled, pack.unsupported = compile_rules(rules)
    pack.quiet = silent_references(loaded.correlations)
    for corr in correlations:
        result = spec_from_sigma(corr)
        if isinstance(result, CorrelationSpec):
            pack.correlations.append(result)
        else:
            pack.refused.append(result)
    if overrides:
        pack.correlations = _apply_overrides(pack, overrides)
    return pack


def _apply_overrides(
    pack: RulePack, overrides: Mapping[str, RuleOverride]
) -> list[CorrelationSpec]:
    by_name = {s.name: s for s in pack.correlations}
    plain = {r.name for r in pack.compiled}
    for name, override in overrides.items():
        where = f"rules.overrides.{name}"
        if name in plain:
            raise ConfigError(f"{where}: {name} is not a threshold rule (no correlation)")
        spec = by_name.get(name)
        if spec is None:
            raise ConfigError(f"{where}: no loaded correlation rule is named {name!r}")
        if override.threshold is not None:
            if spec.kind in (CorrelationKind.TEMPORAL, CorrelationKind.TEMPORAL_ORDERED):
                raise ConfigError(
                    f"{where}: {name} is a {spec.kind.value} rule; its threshold is the number"
                    " of its listed rules, not a count to tune"
                )
            if not any(b.op in _LOWER for b in spec.bounds):
                raise ConfigError(f"{where}: {name} has no lower bound (gt/gte) to set")
            bounds = tuple(
                Bound(b.op, float(override.threshold)) if b.op in _LOWER else b for b in spec.bounds
            )
            spec = replace(spec, bounds=bounds)
        if override.timespan is not None:
            spec = replace(spec, timespan=override.timespan)
        by_name[name] = spec
    return list(by_name.values())
