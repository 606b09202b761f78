"""The `vigil` command."""
