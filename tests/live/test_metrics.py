"""Prometheus text exposition of the live metrics."""

from __future__ import annotations

from vigil.live.metrics import MAX_LABEL_VALUES, Metrics


def test_counters_gauges_and_histogram_render() -> None:
    """Counters add up per label set, gauges keep the last value, the histogram is
    cumulative with +Inf, sum and count; HELP and TYPE precede each metric."""
    m = Metrics()
    m.inc("vigil_lines_total", 3, source="auth")
    m.inc("vigil_lines_total", 2, source="auth")
    m.set("vigil_queue_chunks", 4)
    m.set("vigil_queue_chunks", 1)
    m.observe("vigil_batch_seconds", 0.02)
    m.observe("vigil_batch_seconds", 3.0)
    text = m.render()
    assert '# TYPE vigil_lines_total counter\nvigil_lines_total{source="auth"} 5\n' in text
    assert "vigil_queue_chunks 1\n" in text
    assert 'vigil_batch_seconds_bucket{le="0.01"} 0' in text
    assert 'vigil_batch_seconds_bucket{le="0.025"} 1' in text
    assert 'vigil_batch_seconds_bucket{le="5"} 2' in text
    assert 'vigil_batch_seconds_bucket{le="+Inf"} 2' in text
    assert "vigil_batch_seconds_count 2" in text
    assert "vigil_events_total" not in text  # never set: not shown
    assert m.quantile("vigil_batch_seconds", 0.5) == 0.025


def test_label_values_are_escaped_and_bounded() -> None:
    """Quotes, backslashes and newlines in a label are escaped; past the cap, new
    values count as "other"."""
    m = Metrics()
    m.inc("vigil_rejects_total", source="a", reason='bad "x"\\\n')
    assert 'reason="bad \\"x\\"\\\\\\n"' in m.render()
    for i in range(MAX_LABEL_VALUES + 5):
        m.inc("vigil_alerts_total", rule=f"r{i}")
    assert m.value("vigil_alerts_total", rule="other") == 5
    assert m.total("vigil_alerts_total") == MAX_LABEL_VALUES + 5
