"""`vigil.yaml`: the operator's configuration, validated with located errors.

Import from the submodules (`vigil.config.loader`, `vigil.config.models`): this package
imports nothing itself, so a responder may use `vigil.config.durations` while the config
models import the responder registry, and `vigil --help` can name the default file
without loading pydantic.
"""

DEFAULT_CONFIG_NAME = "vigil.yaml"
