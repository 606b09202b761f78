"""Prometheus metrics of the live monitor, in the text exposition format (0.0.4),
written by hand: a few counters, gauges and one histogram need no library."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field

# Upper bounds (seconds) of the batch latency histogram.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Distinct values one label may take before further ones are counted as "other": a
# hostile input must not grow the exposition without bound.
MAX_LABEL_VALUES = 200

Labels = tuple[tuple[str, str], ...]

HELP: dict[str, tuple[str, str]] = {
    "vigil_up": ("gauge", "1 while the live monitor runs"),
    "vigil_lines_total": ("counter", "lines read from a source"),
    "vigil_events_total": ("counter", "events parsed from a source's lines"),
    "vigil_rejects_total": ("counter", "lines refused, by source and reason"),
    "vigil_replayed_lines_total": ("counter", "lines re-read after a restart to rebuild windows"),
    "vigil_alerts_total": ("counter", "alerts raised, by rule"),
    "vigil_actions_total": ("counter", "action records written, by responder and state"),
    "vigil_batches_total": ("counter", "micro-batches committed"),
    "vigil_batch_seconds": ("histogram", "time from a batch's first line read to its commit"),
    "vigil_source_lag_seconds": (
        "gauge",
        "at the last commit: how long the oldest line of the batch waited since it was read",
    ),
    "vigil_source_backlog_bytes": ("gauge", "bytes written to followed files, not read yet"),
    "vigil_source_dropped_total": ("counter", "lines a source dropped (full queue, datagrams)"),
    "vigil_queue_chunks": ("gauge", "chunks waiting between the sources and the pipeline"),
    "vigil_last_commit_timestamp_seconds": ("gauge", "when the last batch was committed"),
    "vigil_storage_errors_total": ("counter", "commits the state database refused"),
    "vigil_answer_errors_total": (
        "counter",
        "faults answering alerts (response policy, notification queue), by stage",
    ),
}


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    total: float = 0.0
    n: int = 0


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._hist: dict[str, _Histogram] = defaultdict(_Histogram)
        self._seen: dict[tuple[str, str], set[str]] = defaultdict(set)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            key = self._key(name, labels)
            series = self._values[name]
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[name][self._key(name, labels)] = value

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            h = self._hist[name]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if value <= bound:
                    h.counts[i] += 1
            h.total += value
            h.n += 1

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum of a counter over every label set that has these labels."""
        wanted = set(labels.items())
        with self._lock:
            return sum(v for k, v in self._values.get(name, {}).items() if wanted <= set(k))

    def quantile(self, name: str, q: float) -> float | None:
        """The upper bound of the bucket holding quantile q (None before any sample)."""
        with self._lock:
            h = self._hist.get(name)
            if h is None or h.n == 0:
                return None
            rank = q * h.n
            for i, count in enumerate(h.counts):
                if count >= rank:
                    return LATENCY_BUCKETS[i]
            return math.inf

    def render(self) -> str:
        out: list[str] = []
        with self._lock:
            for name, (kind, text) in HELP.items():
                series = self._values.get(name)
                hist = self._hist.get(name)
                if not series and hist is None:
                    continue
                out.append(f"# HELP {name} {text}")
                out.append(f"# TYPE {name} {kind}")
                if hist is not None:
                    for bound, count in zip(LATENCY_BUCKETS, hist.counts, strict=True):
                        out.append(f'{name}_bucket{{le="{bound:g}"}} {count}')
                    out.append(f'{name}_bucket{{le="+Inf"}} {hist.n}')
                    out.append(f"{name}_sum {hist.total:.6f}")
                    out.append(f"{name}_count {hist.n}")
                for labels, value in sorted((series or {}).items()):
                    out.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(out) + "\n"

    def _key(self, name: str, labels: dict[str, str]) -> Labels:
        items = []
        for label, given in sorted(labels.items()):
            seen = self._seen[(name, label)]
            value = "other" if given not in seen and len(seen) >= MAX_LABEL_VALUES else given
            seen.add(value)
            items.append((label, value))
        return tuple(items)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}"
