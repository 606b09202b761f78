"""`vigil.yaml`: the operator's configuration, validated with located errors."""

from vigil.config.loader import DEFAULT_CONFIG_NAME, load_config
from vigil.config.models import VigilConfig

__all__ = ["DEFAULT_CONFIG_NAME", "VigilConfig", "load_config"]
