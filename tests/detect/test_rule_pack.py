"""vigil's bundled rule pack (`rules/`): every rule loads, compiles and is described, and
every rule that can raise an alert proves it on its own samples.

Samples live in `tests/data/rules/<rule name>/`:

* `positive.log`: must make the rule raise alerts, for exactly the entities listed in
  `expect.json` (no more, no fewer: a benign neighbour in the file must stay quiet);
* `negative.log`: near misses that must not make the rule raise anything;
* `expect.json`: `{"entities": [{"source.ip": "203.0.113.7"}, ...], "context": {...}}`;
  `context` is optional and may set `year` (for syslog lines, which carry none), `tz`
  and `format` (else the format is sniffed, as `vigil analyze` does).

A rule that reads several formats has a pair of logs per further format, named after a
variant: `positive.netfilter.log` and `negative.netfilter.log`, described in
`expect.json` under `"variants": {"netfilter": {"context": {...}, "entities": [...]}}`
(`entities` defaults to the main ones).

Both logs go through the real pipeline (`analyze` with the detection stage over the
bundled pack, alerts gated in memory) and must parse without a reject, so that no line
of a sample is silently not the event it is meant to be. "Rules that can raise an
alert" are the correlations and the plain rules no correlation keeps quiet; the base
rules of correlations are tested through them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vigil.alerts.model import Alert
from vigil.clock import FixedClock
from vigil.config.models import RuleOverride, SettingError, VigilConfig
from vigil.detect.correlation.engine import CorrelationEngine
from vigil.detect.factory import detection_stage
from vigil.detect.rulepack import RulePack, default_rules_dir, load_pack
from vigil.detect.sigma.loader import load_rules
from vigil.pipeline.analyze import AnalyzeOptions, analyze

SAMPLES = Path(__file__).parents[1] / "data" / "rules"
# After every sample's events, so that none of them is "in the future" for the engine.
NOW = datetime(2027, 1, 1, tzinfo=UTC)
REQUIRED = ("title", "description", "level", "tags", "falsepositives")


PACK = load_pack([], include_default=True)


def _alerting_rules(pack: RulePack) -> list[str]:
    quiet = CorrelationEngine(pack.correlations).quiet_rules()
    plain = [r.name for r in pack.compiled if r.name not in quiet and r.key not in quiet]
    return sorted(plain + [s.name for s in pack.correlations])


ALERTING = _alerting_rules(PACK)


def run_pack(
    path: Path, context: dict[str, Any] | None = None, pack: RulePack = PACK
) -> tuple[list[Alert], int]:
    """The alerts the pack raises on one log, and the number of rejected lines."""
    ctx = context or {}
    clock = FixedClock(NOW)
    stage = detection_stage(VigilConfig(), pack, clock, db=None)
    options = AnalyzeOptions(
        format=ctx.get("format"), year=ctx.get("year"), tz=ctx.get("tz", "UTC"), clock=clock
    )
    report = analyze([str(path)], options, sinks=[stage])
    assert report.files[0].error is None, report.files[0].error
    return stage.alerts, report.rejected


def entities(alerts: list[Alert], rule: str) -> list[dict[str, str]]:
    found = {json.dumps(a.entity, sort_keys=True) for a in alerts if a.rule_name == rule}
    return [json.loads(e) for e in sorted(found)]


def _expect(rule: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SAMPLES / rule / "expect.json").read_text())
    return doc


def _cases() -> list[tuple[str, str]]:
    """(rule, variant) pairs; "" is the main pair of logs."""
    cases = []
    for rule in ALERTING:
        path = SAMPLES / rule / "expect.json"
        variants = json.loads(path.read_text()).get("variants", {}) if path.is_file() else {}
        cases += [(rule, "")] + [(rule, v) for v in sorted(variants)]
    return cases


def _sample(rule: str, variant: str, kind: str) -> tuple[Path, dict[str, Any]]:
    """The log of one kind (positive/negative) of a variant, and its expectation."""
    expect = _expect(rule)
    if not variant:
        return SAMPLES / rule / f"{kind}.log", expect
    spec = {"entities": expect["entities"], **expect["variants"][variant]}
    return SAMPLES / rule / f"{kind}.{variant}.log", spec


def test_pack_loads_and_compiles() -> None:
    """Every file of rules/ loads and every rule in it compiles: nothing unsupported or refused."""
    assert PACK.errors == []
    assert [str(u) for u in PACK.unsupported] == []
    assert [f"{r.title}: {r.reason}" for r in PACK.refused] == []
    assert PACK.compiled and PACK.correlations


def test_names_and_ids_are_unique_uuid4() -> None:
    """Every rule has a name and a uuid4 id, and no two rules share either."""
    loaded = load_rules([default_rules_dir()])
    rules = [*loaded.rules, *loaded.correlations]
    names = [str(r.name or "") for r in rules]
    ids = [str(r.id) for r in rules]
    assert all(names), "a rule has no name"
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert all(uuid.UUID(i).version == 4 for i in ids)


@pytest.mark.parametrize("rule", PACK.names)
def test_rule_is_described(rule: str) -> None:
    """Each rule has a title, description, level, ATT&CK tags, author vigil, false positives."""
    loaded = load_rules([default_rules_dir()])
    (sigma,) = [r for r in [*loaded.rules, *loaded.correlations] if r.name == rule]
    missing = [k for k in REQUIRED if not getattr(sigma, k)]
    assert missing == []
    assert sigma.author == "vigil"
    assert any(str(t).startswith("attack.t") for t in sigma.tags)


def test_every_alerting_rule_has_samples() -> None:
    """A rule that can raise an alert has a positive, a negative and an expectation."""
    files = ("positive.log", "negative.log", "expect.json")
    missing = [f"{r}/{f}" for r in ALERTING for f in files if not (SAMPLES / r / f).is_file()]
    for rule, variant in _cases():
        for kind in ("positive", "negative") if variant else ():
            path, _ = _sample(rule, variant, kind)
            missing += [] if path.is_file() else [f"{rule}/{path.name}"]
    assert missing == []


def test_every_sample_names_a_rule() -> None:
    """A sample folder with an expectation belongs to a rule of the pack."""
    orphans = [
        p.parent.name for p in SAMPLES.glob("*/expect.json") if p.parent.name not in ALERTING
    ]
    assert orphans == []


def test_every_base_rule_feeds_a_correlation() -> None:
    """A quiet rule is referenced by some correlation (else it would be dead weight)."""
    referenced = {k for s in PACK.correlations for ref in s.rules for k in ref.keys}
    unused = [r.name for r in PACK.compiled if r.name not in ALERTING and r.key not in referenced]
    assert unused == []


def test_thresholds_can_be_overridden() -> None:
    """Every correlation except the ordered sequence takes a threshold override from vigil.yaml."""
    sequences = {s.name for s in PACK.correlations if s.kind == "temporal_ordered"}
    overrides = {
        s.name: RuleOverride(threshold=3) for s in PACK.correlations if s.name not in sequences
    }
    pack = load_pack([], overrides=overrides)
    bounds = {s.name: s.bounds[0].value for s in pack.correlations if s.name in overrides}
    assert bounds == dict.fromkeys(overrides, 3.0)


@pytest.mark.parametrize(("rule", "variant"), _cases())
def test_positive_sample_raises_the_rule(rule: str, variant: str) -> None:
    """The positive sample raises the rule for exactly the expected entities."""
    path, expect = _sample(rule, variant, "positive")
    alerts, rejected = run_pack(path, expect.get("context"))
    assert rejected == 0
    want = sorted(json.dumps(e, sort_keys=True) for e in expect["entities"])
    assert [json.dumps(e, sort_keys=True) for e in entities(alerts, rule)] == want


@pytest.mark.parametrize(("rule", "variant"), _cases())
def test_negative_sample_stays_quiet(rule: str, variant: str) -> None:
    """The near misses of the negative sample raise nothing for the rule."""
    path, expect = _sample(rule, variant, "negative")
    alerts, rejected = run_pack(path, expect.get("context"))
    assert rejected == 0
    assert entities(alerts, rule) == []


# The generated samples of the repository and their ground truth (bench/README.md).
REPO = Path(__file__).parents[2]
TRUTH = REPO / "bench" / "samples" / "truth"


def _truth(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((TRUTH / f"{name}.truth.json").read_text())
    return doc


def test_ssh_bruteforce_flags_exactly_the_must_ban_addresses() -> None:
    """On the generated auth.log, ssh_bruteforce flags the truth's must_ban set, no more."""
    truth = _truth("auth")
    alerts, _ = run_pack(REPO / "samples" / "auth.log", {"year": truth["year"]})
    flagged = {e["source.ip"] for e in entities(alerts, "ssh_bruteforce")}
    assert flagged == set(truth["must_ban"])


WEB_KINDS = {
    "sqli": "web_sqli",
    "xss": "web_xss",
    "traversal": "web_path_traversal",
    "cmdi": "web_command_injection",
    "log4shell": "web_log4shell",
}


def test_web_rules_flag_exactly_the_attackers_of_their_kind() -> None:
    """On the generated access.log, each web rule flags the truth's addresses of its kind."""
    truth = _truth("access")
    alerts, _ = run_pack(REPO / "samples" / "access.log")

    def flagged(rule: str) -> set[str]:
        return {e["source.ip"] for e in entities(alerts, rule)}

    for kind, rule in WEB_KINDS.items():
        assert flagged(rule) == set(truth["by_kind"][kind]), rule
    assert flagged("web_scanner_user_agent") == set(truth["scanner_user_agents"])
    bursts = truth["bursts"]
    assert flagged("web_404_burst") == {b["ip"] for b in bursts["404"]}
    refused = {b["ip"] for code in ("401", "403") for b in bursts[code]}
    assert flagged("web_auth_failure_burst") == refused


def test_firewall_rules_flag_exactly_the_planted_floods_and_scans() -> None:
    """On the generated firewall.log, floods and scans are the truth's, no more."""
    truth = _truth("firewall")
    alerts, _ = run_pack(REPO / "samples" / "firewall.log")
    floods = {
        (e["source.ip"], e["destination.ip"]) for e in entities(alerts, "firewall_connection_flood")
    }
    assert floods == {(f["src"], f["dst"]) for f in truth["flood"]}
    scans = {e["source.ip"] for e in entities(alerts, "port_scan")}
    assert scans == {s["src"] for s in truth["vertical_scan"]}
    sweeps = {
        (e["source.ip"], int(e["destination.port"])) for e in entities(alerts, "horizontal_scan")
    }
    assert sweeps == {(s["src"], s["dport"]) for s in truth["horizontal_scan"]}
    attackers = {a["src"] for a in truth["actors"]}
    assert {e["source.ip"] for e in entities(alerts, "firewall_deny_burst")} <= attackers


RANGE_RULES = """title: ssh fail base
name: my_ssh_fail
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: failure}
  condition: sel
---
title: range count
name: my_range
correlation:
  type: event_count
  rules: [my_ssh_fail]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3, lt: 7}
"""


@pytest.mark.parametrize("threshold", [7, 8])
def test_a_threshold_past_the_upper_bound_is_a_setting_error(
    tmp_path: Path, threshold: int
) -> None:
    """An override that leaves a range condition empty is refused, naming its setting."""
    rules = tmp_path / "range.yml"
    rules.write_text(RANGE_RULES)
    with pytest.raises(
        SettingError, match=rf"rules\.overrides\.my_range\.threshold: .*gte {threshold} and lt 7"
    ) as raised:
        load_pack(
            [rules],
            include_default=False,
            overrides={"my_range": RuleOverride(threshold=threshold)},
        )
    assert raised.value.key == ("rules", "overrides", "my_range", "threshold")


def test_a_threshold_below_the_upper_bound_is_applied(tmp_path: Path) -> None:
    """A threshold that keeps the range non-empty replaces only the lower bound."""
    rules = tmp_path / "range.yml"
    rules.write_text(RANGE_RULES)
    pack = load_pack(
        [rules], include_default=False, overrides={"my_range": RuleOverride(threshold=6)}
    )
    (spec,) = pack.correlations
    assert spec.describe() == "gte 6 and lt 7"


def test_a_correlation_is_disabled_by_its_id() -> None:
    """rules.disabled takes a correlation's id as it takes a plain rule's."""
    (brute,) = [s for s in PACK.correlations if s.name == "ssh_bruteforce"]
    pack = load_pack([], disabled=[brute.rule_id])
    assert pack.disabled == ["ssh_bruteforce"]
    assert "ssh_bruteforce" not in pack.names


def test_an_unknown_disabled_entry_is_a_setting_error() -> None:
    """A typo in rules.disabled is refused, naming its place in the list."""
    with pytest.raises(SettingError, match=r"rules\.disabled\.1: .*'ssh_brutefroce'") as raised:
        load_pack([], disabled=["ssh_bruteforce", "ssh_brutefroce"])
    assert raised.value.key == ("rules", "disabled", 1)


def test_broken_rules_are_errors_and_unsupported_ones_are_not(tmp_path: Path) -> None:
    """A correlation that can never fire is an error of its file; a correlation vigil does
    not run (a chain) is refused with its reason, not an error."""
    rules = tmp_path / "mixed.yml"
    never = RANGE_RULES.replace("{gte: 3, lt: 7}", "{gt: 5, lt: 3}")
    chain = (
        "---\ntitle: chain\nname: my_chain\ncorrelation:\n  type: event_count\n"
        "  rules: [my_range]\n  group-by: [source.ip]\n  timespan: 10m\n  condition: {gte: 2}\n"
    )
    rules.write_text(never + chain)
    pack = load_pack([rules], include_default=False)
    (error,) = pack.errors
    assert error.path == str(rules)
    assert "range count: condition gt 5 and lt 3 can never be true" in error.message
    (refused,) = pack.refused
    assert "chains are not supported" in refused.reason
