"""Sigma rules: pySigma parses them, vigil compiles them to polars and runs them per Batch.

Nothing is imported here: pySigma comes in only with the modules that parse rules
(`loader`, `translate`), so running a cached rule pack never loads it.
"""
