"""Sigma rules: pySigma parses them, vigil compiles them to polars and runs them per Batch."""

from vigil.detect.sigma.compiler import CompiledRule, Unsupported, compile_rule, compile_rules
from vigil.detect.sigma.detector import SigmaDetector, silent_references
from vigil.detect.sigma.loader import LoadedRules, RuleLoadError, load_rules, load_rules_text

__all__ = [
    "CompiledRule",
    "LoadedRules",
    "RuleLoadError",
    "SigmaDetector",
    "Unsupported",
    "compile_rule",
    "compile_rules",
    "load_rules",
    "load_rules_text",
    "silent_references",
]
