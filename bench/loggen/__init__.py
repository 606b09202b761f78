"""Deterministic, seeded generators of security logs with exact ground truth."""

# Bumped whenever the same spec would write different bytes; kept here, free of heavy
# imports, so that bench/parse.py can read it without loading numpy or polars.
GENERATOR_VERSION = 1
