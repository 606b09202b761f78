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

from vigil.config.models import RuleOverride, SettingError
from vigil.detect.correlation.spec import (
    Bound,
    CorrelationKind,
    CorrelationSpec,
    UnsupportedCorrelation,
)
from vigil.detect.pack_cache import BuiltRules, build, cached_build
from vigil.detect.sigma.compiler import CompiledRule, Unsupported
from vigil.detect.sigma.rule_files import RuleLoadError

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
    cache_dir: Path | None = None,
) -> RulePack:
    """The pack of these rule roots (and the bundled pack), with the operator's disabled
    rules left out and overrides applied. With `cache_dir`, the compiled rules come from
    the cache when the rule files and vigil are unchanged (see `pack_cache`)."""
    roots: list[str | Path] = [default_rules_dir()] if include_default else []
    roots += list(paths)
    if not roots:
        built = BuiltRules([], [], [], set())
    elif cache_dir is not None:
        built = cached_build(roots, cache_dir)
    else:
        built = build(roots)
    pack = RulePack(errors=list(built.errors))
    off = set(disabled)
    everything = [*built.rules, *built.correlations]
    # A rule is disabled by its name or its id, plain rule or correlation alike.
    pack.disabled = sorted({name for name, rule_id, _ in everything if {name, rule_id} & off})
    rules = [r for name, rule_id, r in built.rules if not {name, rule_id} & off]
    correlations = [c for name, rule_id, c in built.correlations if not {name, rule_id} & off]
    if not built.errors:
        # (With a rule file that did not load, the entry may name one of its rules; the
        # load error is what the operator must see.)
        _check_disabled(disabled, everything)
    pack.compiled = [r for r in rules if isinstance(r, CompiledRule)]
    pack.unsupported = [r for r in rules if isinstance(r, Unsupported) and not r.broken]
    pack.quiet = set(built.quiet)
    pack.correlations = [c for c in correlations if isinstance(c, CorrelationSpec)]
    pack.refused = [
        c for c in correlations if isinstance(c, UnsupportedCorrelation) and not c.broken
    ]
    # A broken rule (undefined selection, unknown vigil: option, impossible condition) is
    # an error of its file, like one pySigma refuses to load: never only "not run".
    pack.errors += [
        RuleLoadError(r.path or "<text>", f"{r.title}: {r.reason}")
        for r in [*rules, *correlations]
        if isinstance(r, Unsupported | UnsupportedCorrelation) and r.broken
    ]
    if overrides:
        pack.correlations = _apply_overrides(pack, overrides)
    return pack


def _check_disabled(
    disabled: Sequence[str], rules: Sequence[tuple[str, str | None, object]]
) -> None:
    """An entry of rules.disabled that names no loaded rule is a typo that would leave
    the rule running: an error, as an override of an unknown rule is."""
    known = {name for name, _, _ in rules} | {rule_id for _, rule_id, _ in rules if rule_id}
    for i, entry in enumerate(disabled):
        if entry not in known:
            raise SettingError(
                ("rules", "disabled", i), f"no loaded rule has the name or id {entry!r}"
            )


def _apply_overrides(
    pack: RulePack, overrides: Mapping[str, RuleOverride]
) -> list[CorrelationSpec]:
    by_name = {s.name: s for s in pack.correlations}
    plain = {r.name for r in pack.compiled}
    for name, override in overrides.items():
        key = ("rules", "overrides", name)
        if name in plain:
            raise SettingError(key, f"{name} is not a threshold rule (no correlation)")
        spec = by_name.get(name)
        if spec is None:
            raise SettingError(key, f"no loaded correlation rule is named {name!r}")
        if override.threshold is not None:
            at = (*key, "threshold")
            if spec.kind in (CorrelationKind.TEMPORAL, CorrelationKind.TEMPORAL_ORDERED):
                raise SettingError(
                    at,
                    f"{name} is a {spec.kind.value} rule; its threshold is the number"
                    " of its listed rules, not a count to tune",
                )
            if not any(b.op in _LOWER for b in spec.bounds):
                raise SettingError(at, f"{name} has no lower bound (gt/gte) to set")
            bounds = tuple(
                Bound(b.op, float(override.threshold)) if b.op in _LOWER else b for b in spec.bounds
            )
            tuned = replace(spec, bounds=bounds)
            # A threshold at or past the rule's upper bound leaves a rule that can never
            # fire: an error, not a rule listed as ok that stays silent.
            if not tuned.possible:
                raise SettingError(
                    at,
                    f"threshold {override.threshold} makes {name}'s condition"
                    f" {tuned.describe()} impossible (it is {spec.describe()} in its rule)",
                )
            spec = tuned
        if override.timespan is not None:
            spec = replace(spec, timespan=override.timespan)
        by_name[name] = spec
    return list(by_name.values())
