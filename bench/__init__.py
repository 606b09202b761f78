"""vigil benchmarks and the log generators they run on."""
