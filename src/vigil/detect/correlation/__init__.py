"""Sigma correlation rules over exact sliding windows of event time.

What a correlation rule means in vigil
======================================

**Events.** A correlation sees the events its referenced rules (`rules:`) matched. Each
event belongs to a *group*: its values of the `group-by` fields, read through `aliases`
when the referenced rules keep the same information in different fields. An event with
no value for a group-by field (or, for value_count, for the counted field) is left out
and counted as *unplaced*. An event weighs its `event.count` (1 when absent), so
rsyslog's "message repeated 5 times" is five events to event_count.

**Windows.** For each event of a group at time t, its window is [t - timespan, t], both
ends included, on event time (`@timestamp`), not on arrival time and not in fixed
buckets. Five events spread over exactly 10 minutes share a 10m window; five spread over
10 minutes and one second do not. What a window measures:

* event_count: the sum of event.count of its events;
* value_count: the number of distinct non-null values of the condition's `field`;
* temporal: the number of distinct referenced rules with an event in it;
* temporal_ordered: how many of the listed rules, from the first, occur in the listed
  order in it (events with equal timestamps count as in order; a rule listed twice in a
  row needs two events at different times).

The condition compares that measure: gt, gte, lt, lte, eq, or a range of several in one
mapping (`gte: 5` and `lt: 100`: both must hold). Without a condition, a temporal rule
needs all its rules (pySigma's default).

**Episodes: one alert per attack.** A group's events form an *episode* as long as no
two consecutive events are more than timespan apart, i.e. until its window empties. An
episode raises at most one alert:

* A condition with lower bounds only (gt, gte) fires at the first window of the
  episode, in event time, that satisfies it. The alert describes that window: `count`
  is its weighted number of events, `first_seen`/`last_seen` its first and last event,
  and the evidence comes from it. The rest of the episode raises nothing and starts no
  new count; after the group has been quiet for more than timespan, its next event
  opens a new episode.
* A condition with an upper bound (lt, lte, eq, or a range with one) is decided on the
  episode's *peak*, the largest measure any of its windows reached, once the episode is
  over. It fires if the peak satisfies the condition, describing the first window that
  reached the peak. So a flood of 1,000 events does not satisfy "gte 5 and lt 100"
  merely because its window passed through 5..99 on the way up. These alerts come when
  event time has moved timespan + lateness past the episode's last event, or at flush.

An alert's entity is the group (`{"source.ip": "203.0.113.7"}`, values as text); its
evidence is up to MAX_EVIDENCE events of the window in time order (for value_count and
the temporal types, the first event of each distinct value or rule).

**Event time, order, lateness.** Each correlation rule has its own event time
(watermark): the newest `@timestamp` among the events of its referenced rules (or the
`batch_end` of a batch of its own log, or `flush(now)`). So reading `auth.log` and then
an `access.log` of the same hours makes no web event late: the web rules' time starts
with the web log. Within a batch, order does not matter. Across batches and files, an
event may be up to `lateness` (default: the rule's timespan) older than the rule's event
time and is still merged exactly into its group's windows; an older one is ignored and
counted as *late*. So feed one log's files in time order (rotated `auth.log.1` before
`auth.log`; `vigil analyze` reads its inputs oldest first by modification time); two
hosts' auth logs of the same hours read one after the other make the second one's events
late. An alert already raised is not revised by an event of a later batch (one with the
same timestamp as the window's last event, or one that joins two episodes which have
each fired). Deferred decisions wait for the episode to be over, so they are exact under
any disorder within the lateness. An event dated more than `max_skew` (default 15
minutes) after the clock's now is ignored and counted as *future*: one forged date
cannot push event time ahead and turn every real event into a late one.

**Memory.** A group's events are kept while they can still share a window with an event
that is not late: for timespan + lateness after them. A group whose newest event is
older than that is gone. Of an episode already decided (fired, or its peak past an upper
bound) only a skeleton is kept, two events per timespan, enough to tell whether a later
event still belongs to it: a flood that has fired costs a few rows, not all its events.
`flush(now)` moves event time on when no events arrive (live mode): groups expire and
finished episodes are decided on a timer. Only call it with a time the sources reached.
A rule holds numbers per event (key hashes, time, weight, value code: `carried`); the
events' text (group-by values, path, line, message) is stored once for all rules
(`texts`) and dropped when no rule holds the event any more. Keys and values are
compared by hash only because the store proves its hashes tell its texts apart.

**generate.** `generate: false` (Sigma's default) means the referenced rules raise no
alerts of their own; `CorrelationEngine.quiet_rules()` lists them for the detection
stage.

**Refused, with the reason:** value_sum, value_avg, value_percentile, value_median,
extended (boolean expression) conditions, neq, correlations of correlations, rules
listed twice in a temporal or value rule, conditions that can never hold.
"""

from vigil.detect.correlation.engine import CorrelationEngine, CorrelationStats
from vigil.detect.correlation.spec import (
    Bound,
    CorrelationKind,
    CorrelationSpec,
    RuleRef,
    UnsupportedCorrelation,
    load_collection,
    relax_range_conditions,
    spec_from_sigma,
    specs_from_collection,
)

__all__ = [
    "Bound",
    "CorrelationEngine",
    "CorrelationKind",
    "CorrelationSpec",
    "CorrelationStats",
    "RuleRef",
    "UnsupportedCorrelation",
    "load_collection",
    "relax_range_conditions",
    "spec_from_sigma",
    "specs_from_collection",
]
