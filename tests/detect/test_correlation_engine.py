"""The correlation engine's documented behaviour, case by case, on hand-made events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from tests.detect.correlation_rules import ACCEPTED, FAILED
from vigil.alerts.model import MAX_EVIDENCE, Alert
from vigil.clock import FixedClock
from vigil.detect.correlation import CorrelationEngine, load_collection, specs_from_collection

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
ATTACKER = "203.0.113.7"
OTHER = "198.51.100.23"
SERVER = "192.0.2.10"


def correlation(body: str, *, extra: str = "", level: str = "high") -> str:
    return f"""{FAILED}
---
{ACCEPTED}
---
title: Correlated
name: corr
id: 0e6c7f7a-1111-4c1e-9d5a-1a2b3c4d5e6f
level: {level}
tags: [attack.t1110]
correlation:
{body}
{extra}"""


BRUTE = correlation(
    """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 5}"""
)
# Three distinct users from one source within 10 minutes.
USERS_PER_SOURCE = correlation(
    """  type: value_count
  rules: [ssh_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {field: user.name, gte: 3}"""
)


def engine(text: str = BRUTE, **kwargs: Any) -> CorrelationEngine:
    specs, refused = specs_from_collection(load_collection(text))
    assert not refused, refused
    kwargs.setdefault("clock", FixedClock(T0 + timedelta(days=1)))
    return CorrelationEngine(specs, **kwargs)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rows(
    minutes: list[float],
    ip: str | None = ATTACKER,
    *,
    path: str = "/var/log/auth.log",
    first_line: int = 1,
    **columns: list[Any],
) -> pl.DataFrame:
    n = len(minutes)
    data: dict[str, Any] = {
        "@timestamp": [at(m) for m in minutes],
        "source.ip": [ip] * n,
        "log.file.path": [path] * n,
        "log.file.line": list(range(first_line, first_line + n)),
        "message": [f"event at {m}" for m in minutes],
    }
    data.update(columns)
    return pl.DataFrame(
        data,
        schema_overrides={
            "@timestamp": pl.Datetime("us", "UTC"),
            "log.file.line": pl.UInt64,
            "source.ip": pl.String,
            "event.count": pl.UInt32,
        },
    )


def run(eng: CorrelationEngine, *batches: dict[str, pl.DataFrame]) -> list[Alert]:
    alerts: list[Alert] = []
    for batch in batches:
        alerts += eng.process(batch)
    return alerts + eng.flush(at(24 * 60))


def test_five_events_in_exactly_the_timespan_fire() -> None:
    """Five events whose first and last are exactly 10 minutes apart share one window."""
    alerts = run(engine(), {"ssh_failed": rows([0, 2.5, 5, 7.5, 10])})
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.count, a.first_seen, a.last_seen) == (5, at(0), at(10))
    assert a.entity == {"source.ip": ATTACKER}
    assert (a.rule_id, a.rule_name, a.title, a.level) == (
        "0e6c7f7a-1111-4c1e-9d5a-1a2b3c4d5e6f",
        "corr",
        "Correlated",
        "high",
    )
    assert a.tags == ("attack.t1110",)
    assert [(e.path, e.line) for e in a.evidence] == [("/var/log/auth.log", i) for i in range(1, 6)]
    assert a.evidence[0].message == "event at 0"


def test_four_events_in_the_timespan_do_not_fire() -> None:
    """Four events in 10 minutes stay below gte 5."""
    assert run(engine(), {"ssh_failed": rows([0, 3, 6, 10])}) == []


def test_five_events_over_nine_minutes_fire() -> None:
    """Five events spread over 9 minutes fire, at the fifth event."""
    alerts = run(engine(), {"ssh_failed": rows([0, 2, 4, 7, 9])})
    assert [(a.count, a.last_seen) for a in alerts] == [(5, at(9))]


def test_five_events_over_eleven_minutes_do_not_fire() -> None:
    """Five events spread over 11 minutes never have five in one 10 minute window."""
    assert run(engine(), {"ssh_failed": rows([0, 2.75, 5.5, 8.25, 11])}) == []


def test_one_second_past_the_timespan_does_not_fire() -> None:
    """The window is closed at both ends and no wider: 10 minutes 1 second is too long."""
    assert run(engine(), {"ssh_failed": rows([0, 2.5, 5, 7.5, 10 + 1 / 60])}) == []


def test_events_split_across_batches_fire_once() -> None:
    """A window that spans three batches fires as if the events came in one."""
    eng = engine()
    first = eng.process({"ssh_failed": rows([0, 1])})
    second = eng.process({"ssh_failed": rows([3, 4], first_line=3)})
    third = eng.process({"ssh_failed": rows([6, 7], first_line=5)})
    assert first == second == []
    assert [(a.count, a.first_seen, a.last_seen) for a in third] == [(5, at(0), at(6))]
    assert [e.line for e in third[0].evidence] == [1, 2, 3, 4, 5]


def test_a_fired_episode_takes_later_single_events() -> None:
    """Single events after a firing stay in its episode: no second alert from a key
    whose new rows alone are too few to count, among many keys that are too few."""
    eng = engine()

    def batch(minutes: list[float], line: int) -> list[Alert]:
        # One event each from four addresses seen once: keys that cannot fire.
        others = [
            rows([minutes[0]], f"192.0.2.{4 * line + n}", first_line=99 + n) for n in range(4)
        ]
        return eng.process({"ssh_failed": pl.concat([rows(minutes, first_line=line), *others])})

    fired = batch([0, 1, 2, 3, 4], 1)
    # Nine minutes apart: one episode, whose first rows expire on the way.
    later = [batch([m], 6 + k) for k, m in enumerate((13, 22, 31))]
    more = batch([35, 35.5, 36, 36.5], 20)
    assert [a.count for a in fired] == [5]
    assert later == [[]] * 3
    assert more == []


def test_state_carries_across_files() -> None:
    """auth.log.1 then auth.log: one window across the rotation, evidence from both files."""
    eng = engine()
    old = eng.process({"ssh_failed": rows([0, 1, 2], path="/var/log/auth.log.1", first_line=98)})
    new = eng.process({"ssh_failed": rows([3, 4], path="/var/log/auth.log")})
    assert old == []
    assert [(e.path, e.line) for e in new[0].evidence] == [
        ("/var/log/auth.log.1", 98),
        ("/var/log/auth.log.1", 99),
        ("/var/log/auth.log.1", 100),
        ("/var/log/auth.log", 1),
        ("/var/log/auth.log", 2),
    ]


def test_out_of_order_events_in_a_batch_are_merged() -> None:
    """Shuffled events in one batch give the same alert as sorted ones."""
    shuffled = run(engine(), {"ssh_failed": rows([7, 0, 9, 2, 4, 30, 1])})
    ordered = run(engine(), {"ssh_failed": rows([0, 1, 2, 4, 7, 9, 30])})
    assert [(a.count, a.first_seen, a.last_seen) for a in shuffled] == [(5, at(0), at(7))]
    assert [(a.count, a.first_seen, a.last_seen) for a in ordered] == [(5, at(0), at(7))]


def test_event_count_weighs_repeated_messages() -> None:
    """A row standing for 4 occurrences ("message repeated 4 times") plus one more is 5."""
    alerts = run(engine(), {"ssh_failed": rows([0, 3], **{"event.count": [4, 1]})})
    assert [(a.count, len(a.evidence)) for a in alerts] == [(5, 2)]


def test_a_null_event_count_weighs_one() -> None:
    """event.count null means one occurrence, not zero."""
    alerts = run(engine(), {"ssh_failed": rows([0, 1, 2, 3, 4], **{"event.count": [None] * 5})})
    assert [a.count for a in alerts] == [5]


def test_one_alert_per_episode() -> None:
    """An hour of one attempt a minute is one episode: one alert, at the fifth attempt."""
    alerts = run(engine(), {"ssh_failed": rows([float(m) for m in range(60)])})
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(5, at(0), at(4))]


def test_a_new_episode_after_a_quiet_timespan_fires_again() -> None:
    """After more than 10 quiet minutes the next burst is a new episode with its own alert."""
    burst = [0, 1, 2, 3, 4, 5, 6]
    later = [m + 6 + 10.5 for m in range(5)]
    alerts = run(engine(), {"ssh_failed": rows(burst + later)})
    assert [(a.first_seen, a.last_seen) for a in alerts] == [(at(0), at(4)), (at(16.5), at(20.5))]


def test_a_gap_of_exactly_the_timespan_continues_the_episode() -> None:
    """Events exactly 10 minutes apart still share a window, so the episode goes on."""
    alerts = run(engine(), {"ssh_failed": rows([0, 1, 2, 3, 4, 14, 15, 16, 17, 18])})
    assert len(alerts) == 1


def test_keys_are_counted_separately() -> None:
    """Two sources with 3 attempts each in the same minutes do not add up."""
    batch = pl.concat([rows([0, 1, 2]), rows([0, 1, 2], OTHER)])
    assert run(engine(), {"ssh_failed": batch}) == []


def test_several_group_by_fields_form_the_entity() -> None:
    """The seed firewall rule groups by source and destination: both are the entity."""
    text = correlation(
        """  type: event_count
  rules: [ssh_failed]
  group-by: [source.ip, destination.ip]
  timespan: 1m
  condition: {gt: 2}"""
    )
    frame = rows([0, 0.1, 0.2, 0.3], **{"destination.ip": [SERVER, SERVER, SERVER, "192.0.2.11"]})
    alerts = run(engine(text), {"ssh_failed": frame})
    assert [(a.entity, a.count) for a in alerts] == [
        ({"source.ip": ATTACKER, "destination.ip": SERVER}, 3)
    ]


def test_no_group_by_counts_all_events_together() -> None:
    """Without group-by every event is in one group, and the entity is empty."""
    text = correlation(
        """  type: event_count
  rules: [ssh_failed]
  timespan: 10m
  condition: {gte: 3}"""
    )
    batch = pl.concat([rows([0]), rows([1], OTHER), rows([2], "192.0.2.99")])
    assert [(a.entity, a.count) for a in run(engine(text), {"ssh_failed": batch})] == [({}, 3)]


def test_evidence_is_capped_and_earliest_first() -> None:
    """A window of 30 events keeps the first MAX_EVIDENCE of them as evidence."""
    text = BRUTE.replace("{gte: 5}", "{gte: 30}")
    alerts = run(engine(text), {"ssh_failed": rows([m / 10 for m in range(30)])})
    assert len(alerts) == 1
    assert alerts[0].count == 30
    assert [e.line for e in alerts[0].evidence] == list(range(1, MAX_EVIDENCE + 1))


def test_rows_under_name_and_id_are_not_counted_twice() -> None:
    """The same rows handed over under the rule's name and its id count once."""
    frame = rows([0, 1, 2])
    batch = {"ssh_failed": frame, "5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f": frame}
    assert run(engine(BRUTE.replace("{gte: 5}", "{gte: 4}")), batch) == []
    assert len(run(engine(BRUTE.replace("{gte: 5}", "{gte: 3}")), batch)) == 1


def test_rows_under_the_id_alone_are_found() -> None:
    """A detection stage that keys matches by rule id is understood too."""
    batch = {"5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f": rows([0, 1, 2, 3, 4])}
    assert len(run(engine(), batch)) == 1


def test_rows_without_a_group_value_are_counted_as_unplaced() -> None:
    """Events lacking the group-by field are left out and counted, not silently lost."""
    eng = engine()
    alerts = run(eng, {"ssh_failed": pl.concat([rows([0, 1, 2, 3]), rows([4], None)])})
    assert alerts == []
    assert eng.stats()[0].unplaced == 1


def test_a_batch_without_the_group_field_is_unplaced() -> None:
    """Matching rows from a log with no source.ip column at all are all unplaced."""
    eng = engine()
    run(eng, {"ssh_failed": rows([0, 1, 2, 3, 4]).drop("source.ip")})
    assert eng.stats()[0].unplaced == 5


def test_late_events_within_the_lateness_are_merged() -> None:
    """An event up to `lateness` older than event time still counts in its window."""
    eng = engine(lateness=timedelta(minutes=5))
    assert eng.process({"ssh_failed": rows([10, 11, 12, 13])}) == []
    late = eng.process({"ssh_failed": rows([8])})
    assert [(a.count, a.first_seen, a.last_seen) for a in late] == [(5, at(8), at(13))]
    assert eng.stats()[0].late == 0


def test_events_older_than_the_lateness_are_ignored_and_counted() -> None:
    """An event more than `lateness` behind event time is dropped as late."""
    eng = engine(lateness=timedelta(minutes=1))
    eng.process({"ssh_failed": rows([10, 11, 12, 13])})
    assert eng.process({"ssh_failed": rows([8])}) == []
    assert eng.stats()[0].late == 1


def test_events_from_the_future_are_ignored() -> None:
    """An event dated far past the clock neither counts nor moves event time."""
    eng = engine(clock=FixedClock(at(20)), max_skew=timedelta(minutes=5))
    eng.process({"ssh_failed": rows([0, 1, 600])})
    assert eng.stats()[0].future == 1
    assert eng.watermark == at(1)
    alerts = eng.process({"ssh_failed": rows([2, 3, 4])})
    assert [a.count for a in alerts] == [5]


def test_flush_expires_keys() -> None:
    """flush(now) drops a key once its newest event is timespan + lateness behind now."""
    eng = engine(lateness=timedelta(0))
    eng.process({"ssh_failed": rows([0, 1])})
    eng.flush(at(11))
    assert (eng.stats()[0].live_keys, eng.stats()[0].rows) == (1, 1)
    eng.flush(at(11.01))
    assert (eng.stats()[0].live_keys, eng.stats()[0].rows) == (0, 0)


def test_flush_never_moves_event_time_back() -> None:
    """A flush with an older time than the newest event changes nothing."""
    eng = engine()
    eng.process({"ssh_failed": rows([30, 31])})
    assert eng.flush(at(0)) == []
    assert eng.watermark == at(31)
    assert eng.stats()[0].rows == 2


def test_batch_end_moves_event_time_without_matches() -> None:
    """A batch of the rule's log with no matching rows but a newer end expires quiet keys."""
    eng = engine(lateness=timedelta(0))
    eng.process({"ssh_failed": rows([0, 1, 2])})
    assert eng.process({"ssh_failed": rows([])}, batch_end=at(30)) == []
    assert eng.stats()[0].live_keys == 0


def test_other_logs_do_not_move_a_rules_event_time() -> None:
    """auth.log read first, then a web log of the same hours: no ssh event becomes late,
    and a batch that is not the rule's own leaves its time alone."""
    eng = engine(lateness=timedelta(0))
    eng.process({"ssh_failed": rows([0, 1, 2])})
    assert eng.process({"web_404": rows([300])}, batch_end=at(300)) == []
    assert eng.stats()[0].live_keys == 1
    alerts = eng.process({"ssh_failed": rows([3, 4], first_line=4)})
    assert [a.count for a in alerts] == [5]


def test_memory_stays_bounded_when_many_keys_expire() -> None:
    """Ten thousand one-off sources over a day leave only the last window's keys alive."""
    eng = engine(lateness=timedelta(0))
    held = []
    for hour in range(24):
        n = 420
        minutes = [hour * 60 + i * 60 / n for i in range(n)]
        ips = [f"2001:db8::{hour:x}:{i:x}" for i in range(n)]
        frame = rows(minutes)
        eng.process({"ssh_failed": frame.with_columns(pl.Series("source.ip", ips))})
        held.append(eng.stats()[0].live_keys)
    assert max(held) <= 80  # about 10 minutes of 7 new sources a minute
    eng.flush(at(25 * 60))
    assert eng.stats()[0].rows == 0


def test_value_count_counts_distinct_values_across_batches() -> None:
    """Three distinct users from one source across two batches fire; repeats do not count."""
    eng = engine(USERS_PER_SOURCE)
    first = eng.process({"ssh_failed": rows([0, 1, 2, 3], **{"user.name": ["a", "b", "a", "b"]})})
    second = eng.process({"ssh_failed": rows([4, 5], first_line=5, **{"user.name": ["b", "c"]})})
    assert first == []
    assert [(a.count, a.first_seen, a.last_seen) for a in second] == [(6, at(0), at(5))]
    assert [e.line for e in second[0].evidence] == [1, 2, 6]  # first of a, b and c


def test_value_count_with_as_many_events_as_the_threshold_fires() -> None:
    """Three events with three users: the row-count prefilter lets the key through."""
    frame = pl.concat(
        [
            rows([0, 1, 2], **{"user.name": ["a", "b", "c"]}),
            rows([0, 1], OTHER, **{"user.name": ["a", "b"]}),
        ]
    )
    alerts = run(engine(USERS_PER_SOURCE), {"ssh_failed": frame})
    assert [(a.entity, a.count) for a in alerts] == [({"source.ip": ATTACKER}, 3)]


def test_value_count_forgets_values_that_left_the_window() -> None:
    """A value seen 11 minutes ago no longer counts."""
    frame = rows([0, 9, 11], **{"user.name": ["a", "b", "c"]})
    assert run(engine(USERS_PER_SOURCE), {"ssh_failed": frame}) == []


TEMPORAL = correlation(
    """  type: temporal
  rules: [ssh_failed, ssh_accepted]
  group-by: [source.ip]
  timespan: 10m"""
)
ORDERED = TEMPORAL.replace("type: temporal", "type: temporal_ordered")


def test_temporal_needs_every_rule_in_the_window_across_batches() -> None:
    """A failure in one batch and a success 9 minutes later in the next fire together."""
    eng = engine(TEMPORAL)
    assert eng.process({"ssh_failed": rows([0])}) == []
    alerts = eng.process({"ssh_accepted": rows([9])})
    assert [(a.first_seen, a.last_seen, len(a.evidence)) for a in alerts] == [(at(0), at(9), 2)]


def test_temporal_in_either_order_but_not_too_far_apart() -> None:
    """temporal ignores order, but 11 minutes apart is outside the window."""
    assert len(run(engine(TEMPORAL), {"ssh_accepted": rows([0]), "ssh_failed": rows([3])})) == 1
    assert run(engine(TEMPORAL), {"ssh_failed": rows([0]), "ssh_accepted": rows([11])}) == []


def test_temporal_ordered_fires_only_in_the_listed_order() -> None:
    """Failure then success fires; success then failure does not."""
    assert run(engine(ORDERED), {"ssh_accepted": rows([0]), "ssh_failed": rows([3])}) == []
    eng = engine(ORDERED)
    assert eng.process({"ssh_failed": rows([0])}) == []
    alerts = eng.process({"ssh_accepted": rows([3])})
    assert [(a.first_seen, a.last_seen) for a in alerts] == [(at(0), at(3))]


def test_temporal_ordered_same_second_counts_as_in_order() -> None:
    """A failure and a success logged in the same second are taken as in order."""
    assert len(run(engine(ORDERED), {"ssh_failed": rows([5]), "ssh_accepted": rows([5])})) == 1


def test_aliases_join_different_fields_into_one_group() -> None:
    """The failure's source and the success's destination are the same alias value."""
    text = correlation(
        """  type: temporal
  rules: [ssh_failed, ssh_accepted]
  group-by: [peer]
  timespan: 10m
  aliases:
    peer:
      ssh_failed: source.ip
      ssh_accepted: destination.ip"""
    )
    success = rows([2], OTHER, **{"destination.ip": [ATTACKER]})
    alerts = run(engine(text), {"ssh_failed": rows([0]), "ssh_accepted": success})
    assert [a.entity for a in alerts] == [{"peer": ATTACKER}]


RANGE = BRUTE.replace("{gte: 5}", "{gte: 5, lt: 100}")


def test_range_fires_on_a_moderate_episode_at_its_end() -> None:
    """gte 5 and lt 100: 20 attempts fire once the episode is over, with the peak count."""
    eng = engine(RANGE, lateness=timedelta(0))
    assert eng.process({"ssh_failed": rows([m / 4 for m in range(20)])}) == []
    assert eng.process({"ssh_failed": rows([])}, batch_end=at(14.75)) == []
    alerts = eng.process({"ssh_failed": rows([])}, batch_end=at(14.76))
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(20, at(0), at(4.75))]


def test_range_ignores_a_flood_above_the_upper_bound() -> None:
    """A flood of 150 in 10 minutes passed through 5..99 but its peak is not below 100."""
    assert run(engine(RANGE), {"ssh_failed": rows([m / 20 for m in range(150)])}) == []


def test_range_below_the_lower_bound_does_not_fire() -> None:
    """Four attempts are below the range."""
    assert run(engine(RANGE), {"ssh_failed": rows([0, 1, 2, 3])}) == []


def test_range_peak_is_exact_across_batches_and_expiry() -> None:
    """A peak reached in an early batch is remembered after its rows have expired."""
    eng = engine(RANGE, lateness=timedelta(0))
    alerts = eng.process({"ssh_failed": rows([0, 0.5, 1, 1.5, 2, 2.5])})
    for k in range(1, 8):  # one attempt every 9 minutes keeps the episode open
        alerts += eng.process({"ssh_failed": rows([2.5 + 9 * k], first_line=6 + k)})
    alerts += eng.flush(at(200))
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(6, at(0), at(2.5))]


def test_generate_false_makes_referenced_rules_quiet() -> None:
    """By default the referenced rule raises no alerts of its own; generate: true keeps them."""
    assert engine().quiet_rules() == {"ssh_failed", "5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f"}
    loud = BRUTE.replace("  timespan: 10m", "  timespan: 10m\n  generate: true")
    assert engine(loud).quiet_rules() == set()
    assert engine(loud).specs[0].generate


def test_naive_timestamps_are_read_as_utc() -> None:
    """Matching rows with a naive @timestamp column are taken as UTC."""
    frame = rows([0, 1, 2, 3, 4]).with_columns(pl.col("@timestamp").dt.replace_time_zone(None))
    assert [a.last_seen for a in run(engine(), {"ssh_failed": frame})] == [at(4)]


def test_rows_without_a_datetime_timestamp_are_refused() -> None:
    """A @timestamp that is not a Datetime column is a programming error, said plainly."""
    frame = rows([0]).with_columns(pl.col("@timestamp").cast(pl.String))
    with pytest.raises(TypeError, match="Datetime '@timestamp'"):
        engine().process({"ssh_failed": frame})


def test_temporal_ordered_with_a_repeated_rule_needs_two_events() -> None:
    """failed, failed, accepted: one failure is not enough, two are, and count each once."""
    text = ORDERED.replace(
        "rules: [ssh_failed, ssh_accepted]", "rules: [ssh_failed, ssh_failed, ssh_accepted]"
    )
    assert run(engine(text), {"ssh_failed": rows([0]), "ssh_accepted": rows([2])}) == []
    alerts = run(engine(text), {"ssh_failed": rows([0, 1]), "ssh_accepted": rows([2])})
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(3, at(0), at(2))]


def test_rows_without_a_time_are_unplaced() -> None:
    """A matching row whose @timestamp is null is counted as unplaced, not lost."""
    eng = engine()
    frame = rows([0, 1]).with_columns(
        pl.when(pl.col("log.file.line") == 2)
        .then(None)
        .otherwise(pl.col("@timestamp"))
        .alias("@timestamp")
    )
    run(eng, {"ssh_failed": frame})
    assert eng.stats()[0].unplaced == 1


def test_naive_times_are_refused_at_the_api() -> None:
    """batch_end and flush need timezone-aware datetimes; a naive one is a caller bug."""
    with pytest.raises(ValueError, match="timezone-aware"):
        engine().process({}, batch_end=datetime(2026, 11, 22, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        engine().flush(datetime(2026, 11, 22, 10))


@pytest.mark.parametrize("text", [BRUTE, RANGE], ids=["fired", "past-the-range"])
def test_a_decided_flood_keeps_only_a_skeleton(text: str) -> None:
    """Ten batches of a 5000-event flood hold a handful of rows, and alert at most once."""
    eng = engine(text, lateness=timedelta(0))
    alerts: list[Alert] = []
    for k in range(10):
        minutes = [k * 3 + i * 3 / 5000 for i in range(5000)]
        alerts += eng.process({"ssh_failed": rows(minutes, first_line=k * 5000 + 1)})
        assert eng.stats()[0].rows <= 10
    alerts += eng.flush(at(24 * 60))
    assert len(alerts) == (1 if text is BRUTE else 0)
    assert eng.stats()[0].rows == 0


def test_a_late_event_joins_a_thinned_episode() -> None:
    """After a fired flood is thinned, a late event of the same episode raises nothing."""
    eng = engine(lateness=timedelta(minutes=10))
    first = eng.process({"ssh_failed": rows([i / 100 for i in range(1000)])})
    again = eng.process({"ssh_failed": rows([4.5, 4.6, 4.7, 4.8, 4.9], first_line=2000)})
    assert (len(first), again) == (1, [])
