"""Load Sigma YAML files and folders with pySigma, keeping every problem with its place.

One bad file never stops the others: a file that is not UTF-8, not YAML, or not a valid
Sigma document becomes a `RuleLoadError` with its path (and line and column when the
YAML parser or pySigma gives them); its good neighbours load. Correlation rules are
returned apart, with their rule references resolved against everything loaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import PythonRegexEngine
from sigma.rule import SigmaRule

from vigil.detect.correlation.spec import relax_range_conditions
from vigil.detect.sigma.compiler import NAME_ATTRIBUTE, given_name, rule_name
from vigil.detect.sigma.rule_files import RuleLoadError, rule_files

# pySigma's default policy checks `re` values with RE2 and rejects valid rules whose
# regex uses look-around or backreferences as invalid. Load them with Python's engine
# (only compiled here, never run on events: no backtracking risk) so that the compiler
# reports them as unsupported by polars' engine, with its reason. Template variables
# and external sources stay disabled as in pySigma's safe policy.
LOAD_POLICY = SigmaPolicy(regex_engine=PythonRegexEngine())

# The Sigma specification names the UTF-16LE modifier both `wide` and `utf16le`;
# pySigma 2.0.1 knows only `wide`.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)


# libyaml's safe loader when PyYAML was built with it: ~10x faster on a rule pack.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LoadedRules:
    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    errors: list[RuleLoadError] = field(default_factory=list)


def load_rules(paths: Sequence[str | Path]) -> LoadedRules:
    """Every rule in the given files and folders."""
    collections: list[SigmaCollection] = []
    errors: list[RuleLoadError] = []
    for item in rule_files(paths):
        if isinstance(item, RuleLoadError):
            errors.append(item)
            continue
        try:
            text = item.read_bytes().decode("utf-8")
        except OSError as e:
            errors.append(RuleLoadError(str(item), f"cannot read: {e.strerror or e}"))
            continue
        except UnicodeDecodeError as e:
            errors.append(RuleLoadError(str(item), f"not UTF-8 text (byte {e.start})"))
            continue
        collection = _parse(text, str(item), errors)
        if collection is not None:
            collections.append(collection)
    return _assemble(collections, errors)


def load_rules_text(text: str, origin: str = "<text>") -> LoadedRules:
    """The rules of one YAML text (one or more documents), `origin` naming it in errors."""
    errors: list[RuleLoadError] = []
    collection = _parse(text, origin, errors)
    return _assemble([collection] if collection is not None else [], errors)


def _parse(text: str, origin: str, errors: list[RuleLoadError]) -> SigmaCollection | None:
    try:
        # Range conditions (`gte: 5` and `lt: 100`) are in the Sigma specification but
        # pySigma refuses them; the correlation spec reads them back (see its docstring).
        documents = relax_range_conditions(list(yaml.load_all(text, Loader=_YAML_LOADER)))
        collection = SigmaCollection.from_dicts(
            documents,
            collect_errors=True,
            source=SigmaRuleLocation(Path(origin)),
            collect_filters=True,
            resolve_references=False,
            policy=LOAD_POLICY,
        )
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        if mark is not None:
            errors.append(RuleLoadError(origin, f"YAML: {problem}", mark.line + 1, mark.column + 1))
        else:
            errors.append(RuleLoadError(origin, f"YAML: {problem}"))
        return None
    except SigmaError as e:
        errors.append(_from_sigma(e, origin))
        return None
    except Exception as e:  # pySigma raises plain Python errors on odd shapes
        # (a document that is a list or a number); one bad file must not stop the rest.
        errors.append(RuleLoadError(origin, f"not a Sigma document: {type(e).__name__}: {e}"))
        return None
    errors.extend(_from_sigma(e, origin) for e in collection.errors)
    collection.rules = [r for r in collection.rules if not r.errors]
    return collection


def _from_sigma(error: SigmaError, origin: str) -> RuleLoadError:
    source = error.source
    # SigmaError's str() appends the location; keep the bare message and place it ourselves.
    message = str(error.args[0]) if error.args else type(error).__name__
    if source is None:
        return RuleLoadError(origin, message)
    return RuleLoadError(str(source.path), message, source.line, source.char)


def _assemble(collections: list[SigmaCollection], errors: list[RuleLoadError]) -> LoadedRules:
    rules = [r for c in collections for r in c.rules]
    filters = [f for c in collections for f in c.filters]
    _give_names(rules)
    rules = _drop_duplicate_ids(rules, errors)
    rules = _drop_duplicate_names(rules, errors)
    try:
        merged = SigmaCollection([*rules, *filters], resolve_references=False)
    except SigmaError as e:
        errors.append(_from_sigma(e, "<filters>"))
        merged = SigmaCollection(list(rules), resolve_references=False)
    out = LoadedRules(errors=errors)
    for rule in merged.rules:
        if isinstance(rule, SigmaRule):
            out.rules.append(rule)
            continue
        try:
            rule.resolve_rule_references(merged)
        except SigmaError as e:
            out.errors.append(_from_sigma(e, _origin(rule)))
            continue
        out.correlations.append(rule)
    return out


def _drop_duplicate_ids(
    rules: list[SigmaRule | SigmaCorrelationRule], errors: list[RuleLoadError]
) -> list[SigmaRule | SigmaCorrelationRule]:
    seen: dict[object, str] = {}
    kept: list[SigmaRule | SigmaCorrelationRule] = []
    for rule in rules:
        if rule.id is not None and rule.id in seen:
            errors.append(
                RuleLoadError(
                    _origin(rule), f"duplicate rule id {rule.id} (first in {seen[rule.id]})"
                )
            )
            continue
        if rule.id is not None:
            seen[rule.id] = _origin(rule)
        kept.append(rule)
    return kept


def _give_names(rules: list[SigmaRule | SigmaCorrelationRule]) -> None:
    """Name every rule without `name:` (see `compiler.given_name`): alerts are told
    apart by rule name and entity, so two rules must never share a name."""
    per_file = Counter(_origin(r) for r in rules)
    for rule in rules:
        if not rule.name:
            alone = per_file[_origin(rule)] == 1
            rule.custom_attributes[NAME_ATTRIBUTE] = given_name(rule, alone=alone)


def _drop_duplicate_names(
    rules: list[SigmaRule | SigmaCorrelationRule], errors: list[RuleLoadError]
) -> list[SigmaRule | SigmaCorrelationRule]:
    """Two rules of one name would fold each other's alerts (the fingerprint is rule
    name + entity) and could not be told apart in `disabled` or `rules test`: the second
    is a load error naming both files, as a duplicate id is."""
    seen: dict[str, str] = {}
    kept: list[SigmaRule | SigmaCorrelationRule] = []
    for rule in rules:
        name = rule_name(rule)
        if name in seen:
            how = "" if rule.name else " (given to a rule without `name:`; give it one)"
            errors.append(
                RuleLoadError(
                    _origin(rule),
                    f"duplicate rule name {name!r}{how}: {rule.title!r} here and a rule"
                    f" in {seen[name]}",
                )
            )
            continue
        seen[name] = _origin(rule)
        kept.append(rule)
    return kept


def _origin(rule: SigmaRule | SigmaCorrelationRule) -> str:
    return str(rule.source.path) if rule.source is not None else "<text>"
