"""vigil: security log analysis, network monitoring and incident response."""

__version__ = "0.1.0"

__all__ = ["__version__"]
