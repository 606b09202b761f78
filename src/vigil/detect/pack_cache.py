"""The compiled rule pack, kept in the state directory from one run to the next.

Reading and compiling rules costs every run ~0.3 CPU-s, half of it importing pySigma;
the rule files rarely change. So the compiled rules (condition trees, correlation specs,
every refusal with its reason, every load error) are pickled under `<state-dir>/cache/`,
named by a key over everything they depend on: vigil's own code (each module's size and
change time), pySigma's install, and the path and content of every rule file. Any change
gives a new key, so a stale pack is never read; a missing, unreadable or foreign file is
simply rebuilt. A cached pack holds no pySigma object and loads without pySigma.

The cache lives with the state database and is trusted like it: a file that someone
other than this user owns, or that others may write, is never unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import vigil
from vigil.detect.correlation.spec import CorrelationSpec, UnsupportedCorrelation
from vigil.detect.sigma.compiler import CompiledRule, Unsupported
from vigil.detect.sigma.rule_files import RuleLoadError, rule_files

# Bumped when what a cache file holds changes shape.
FORMAT = 2
# Cache files kept (one per set of rule roots, e.g. with and without --rules).
KEEP = 8
_PREFIX = "rules-"


@dataclass
class BuiltRules:
    """Every rule of some roots, compiled; what `load_pack` picks from (see there)."""

    # (name, id, compiled or the reason it is not) per detection rule, in load order
    rules: list[tuple[str, str | None, CompiledRule | Unsupported]]
    # (name, id, spec or the reason it is refused) per correlation rule
    correlations: list[tuple[str, str | None, CorrelationSpec | UnsupportedCorrelation]]
    errors: list[RuleLoadError]
    # rules a correlation uses with `generate: false`
    quiet: set[str]


def build(roots: Sequence[str | Path]) -> BuiltRules:
    """Read and compile every rule under `roots` (pySigma)."""
    # pySigma only when rules are read, not when the cache has them.
    from vigil.detect.correlation.spec import spec_from_sigma  # noqa: PLC0415
    from vigil.detect.sigma.compiler import compile_rule, rule_name  # noqa: PLC0415
    from vigil.detect.sigma.detector import silent_references  # noqa: PLC0415
    from vigil.detect.sigma.loader import load_rules  # noqa: PLC0415

    loaded = load_rules(roots)
    return BuiltRules(
        rules=[(rule_name(r), _id(r), compile_rule(r)) for r in loaded.rules],
        correlations=[(rule_name(c), _id(c), spec_from_sigma(c)) for c in loaded.correlations],
        errors=list(loaded.errors),
        quiet=silent_references(loaded.correlations),
    )


def _id(rule: Any) -> str | None:
    return str(rule.id) if rule.id is not None else None


def cached_build(roots: Sequence[str | Path], cache_dir: Path) -> BuiltRules:
    """`build(roots)`, from the cache when it holds this very pack (else built and kept)."""
    path = cache_dir / f"{_PREFIX}{cache_key(roots)}.pickle"
    built = _read(path)
    if built is None:
        built = build(roots)
        _write(path, built)
    return built


def cache_key(roots: Sequence[str | Path]) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{vigil.__version__}\0{sys.version}\0".encode())
    for stamp in _code_stamps():
        digest.update(stamp.encode())
    for item in rule_files(roots):
        if isinstance(item, RuleLoadError):
            digest.update(f"\0missing {item.path}".encode())
            continue
        try:
            content = hashlib.sha256(item.read_bytes()).hexdigest()
        except OSError as e:
            content = f"unreadable {e}"
        digest.update(f"\0{item.resolve()}\0{content}".encode())
    return digest.hexdigest()[:32]


def _code_stamps() -> list[str]:
    """What identifies the code that compiles rules: vigil's modules and pySigma's."""
    places = [Path(vigil.__file__).parent]
    spec = importlib.util.find_spec("sigma")
    if spec is not None and spec.origin is not None:
        places.append(Path(spec.origin).parent)
    stamps = []
    for place in places:
        for module in sorted(place.rglob("*.py")):
            st = module.stat()
            stamps.append(f"{module}\0{st.st_size}\0{st.st_mtime_ns}\n")
    return stamps


def _read(path: Path) -> BuiltRules | None:
    try:
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        with path.open("rb") as f:
            built = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated file, an old shape: build again and replace it
        return None
    return built if isinstance(built, BuiltRules) else None


def _write(path: Path, built: BuiltRules) -> None:
    """Keep `built` at `path` (atomically); a cache that cannot be written is no error."""
    detached = BuiltRules(
        rules=[(n, i, replace(r, source=None)) for n, i, r in built.rules],
        correlations=built.correlations,
        errors=built.errors,
        quiet=built.quiet,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(detached, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)
        return
    _prune(path.parent)


def _prune(cache_dir: Path) -> None:
    """Drop all but the `KEEP` most recently written packs."""
    with contextlib.suppress(OSError):
        packs = sorted(
            cache_dir.glob(f"{_PREFIX}*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in packs[KEEP:]:
            old.unlink(missing_ok=True)
