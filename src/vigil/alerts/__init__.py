"""Alerts: the model, fingerprints, and (later) dedup, throttling and suppressions."""

from vigil.alerts.model import Alert, Evidence

__all__ = ["Alert", "Evidence"]
