"""Detectors: Batch in, Alerts out (Sigma rules, correlations, intel, anomalies)."""
