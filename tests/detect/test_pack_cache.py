"""The compiled rule pack kept between runs: the same pack, rebuilt on any change, never
read when someone else could have written it, and run without pySigma."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from vigil.detect.pack_cache import BuiltRules, cache_key
from vigil.detect.rulepack import RulePack, default_rules_dir, load_pack
from vigil.detect.sigma.rule_files import RuleLoadError

RULE = """title: Root login
name: root_login
id: 5d0e5ba1-0000-4000-8000-0000000000aa
status: test
logsource: {product: linux, service: sshd}
detection:
  sel: {user.name: root}
  condition: sel
level: high
"""


def _summary(pack: RulePack) -> tuple[object, ...]:
    return (
        [(r.name, r.key, r.title, r.level, r.tags, r.author, r.condition) for r in pack.compiled],
        [(s.name, s.bounds, s.timespan, s.rules) for s in pack.correlations],
        [str(u) for u in pack.unsupported],
        [str(r) for r in pack.refused],
        pack.errors,
        pack.quiet,
        pack.disabled,
    )


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("rules-*.pickle"))


def test_cached_pack_equals_the_compiled_one(tmp_path: Path) -> None:
    """The bundled pack read from the cache is the pack compiled from the files."""
    fresh = load_pack([], disabled=["ssh_bruteforce"])
    first = load_pack([], disabled=["ssh_bruteforce"], cache_dir=tmp_path)
    (written,) = _cache_files(tmp_path)
    second = load_pack([], disabled=["ssh_bruteforce"], cache_dir=tmp_path)
    assert _summary(first) == _summary(second) == _summary(fresh)
    assert second.disabled == ["ssh_bruteforce"]
    assert _cache_files(tmp_path) == [written]


def test_a_changed_rule_file_is_compiled_again(tmp_path: Path) -> None:
    """Editing a rule file gives a new key: the edit is what runs."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(RULE)
    before = load_pack([rules], include_default=False, cache_dir=tmp_path / "cache")
    (rules / "root.yml").write_text(RULE.replace("level: high", "level: critical"))
    after = load_pack([rules], include_default=False, cache_dir=tmp_path / "cache")
    assert [r.level for r in before.compiled] == ["high"]
    assert [r.level for r in after.compiled] == ["critical"]
    assert len(_cache_files(tmp_path / "cache")) == 2


def test_cache_others_may_write_is_not_read(tmp_path: Path) -> None:
    """A cache file writable by others, or not a pack at all, is replaced by a fresh one."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(RULE)
    cache = tmp_path / "cache"
    cache.mkdir()
    planted = BuiltRules([], [], [RuleLoadError("planted", "not from these rules")], set())
    path = cache / f"rules-{cache_key([rules])}.pickle"
    path.write_bytes(pickle.dumps(planted))
    path.chmod(0o666)
    assert [
        r.name for r in load_pack([rules], include_default=False, cache_dir=cache).compiled
    ] == ["root_login"]
    assert os.stat(path).st_mode & 0o022 == 0
    path.write_bytes(b"not a pickle")
    assert load_pack([rules], include_default=False, cache_dir=cache).errors == []


def test_rule_from_the_cache_reads_its_pysigma_rule_again(tmp_path: Path) -> None:
    """A cached rule has no pySigma object; asking for it reads its file again."""
    load_pack([], cache_dir=tmp_path)
    cached = load_pack([], cache_dir=tmp_path)
    rule = next(r for r in cached.compiled if r.name == "ssh_auth_failure")
    assert rule.source is None
    assert rule.rule.title == rule.title
    assert Path(str(rule.rule.source.path)).is_relative_to(default_rules_dir())


def test_warm_run_does_not_import_pysigma(tmp_path: Path) -> None:
    """The second load of a pack comes from the cache without importing pySigma."""
    program = (
        "import sys; from pathlib import Path; from vigil.detect.rulepack import load_pack; "
        f"pack = load_pack([], cache_dir=Path({str(tmp_path)!r})); "
        "print(len(pack.compiled), len(pack.correlations), "
        "any(m == 'sigma' or m.startswith('sigma.') for m in sys.modules))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][:2] == runs[1][:2]
    assert int(runs[0][0]) > 0
    assert [run[2] for run in runs] == ["True", "False"]
