"""`vigil run`: the live monitor. Sources feed micro-batches through the same parsers,
detectors and responders as `vigil analyze`; every batch commits its alerts, actions and
source checkpoints in one transaction."""
