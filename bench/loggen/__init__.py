"""Deterministic, seeded generators of security logs with exact ground truth."""
