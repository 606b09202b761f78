"""The responder registry lists every responder vigil ships."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import vigil.respond
from vigil.errors import ConfigError
from vigil.respond.registry import RESPONDERS, get_responder

CONTRACT = ("id", "kind", "Settings", "act", "revert", "check")


def _responder_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(vigil.respond.__path__, "vigil.respond."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and all(hasattr(cls, a) for a in CONTRACT):
                found[cls.id] = cls
    return found


def test_every_responder_class_is_registered() -> None:
    """A responder class defined in vigil.respond is reachable by its id in RESPONDERS."""
    for id_, cls in _responder_classes().items():
        assert RESPONDERS.get(id_) is cls, f"{cls.__module__}.{cls.__name__} is not registered"


def test_registry_keys_are_the_responders_ids() -> None:
    """Each registry key is the id its responder declares."""
    for key, cls in RESPONDERS.items():
        assert cls.id == key


def test_unknown_type_is_a_config_error_naming_the_known_ones() -> None:
    """Asking for a responder type vigil does not ship is a configuration error."""
    with pytest.raises(ConfigError, match="unknown responder type 'nope'"):
        get_responder("nope")
