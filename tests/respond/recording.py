"""A responder that records what it is asked and holds targets in memory: the edge the
engine's tests stand on (the real firewalls have their own tests in namespaces)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from vigil.errors import ResponderError
from vigil.respond.base import ResponderContext
from vigil.respond.model import Action, ActionKind
from vigil.respond.registry import RESPONDERS


class RecordingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fail: int = 0  # how many calls fail before one succeeds
    checkable: bool = True
    final: bool = False  # failures say retrying cannot help (ResponderError.final)


class RecordingResponder:
    id: ClassVar[str] = "recording"
    kind: ClassVar[ActionKind] = ActionKind.BLOCK
    Settings: ClassVar[type[BaseModel]] = RecordingSettings
    # Every instance of a test shares these, as a firewall is shared by its clients.
    held: ClassVar[dict[str, Action]] = {}
    calls: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, settings: BaseModel, context: ResponderContext) -> None:
        assert isinstance(settings, RecordingSettings)
        self.settings = settings
        self.context = context
        self.failures_left = settings.fail

    def _maybe_fail(self, verb: str, target: str) -> None:
        self.calls.append((verb, target))
        if self.failures_left:
            self.failures_left -= 1
            raise ResponderError(f"backend down ({verb} {target})", final=self.settings.final)

    def act(self, action: Action) -> None:
        self._maybe_fail("act", action.target)
        self.held[action.target] = action

    def revert(self, action: Action) -> None:
        self._maybe_fail("revert", action.target)
        self.held.pop(action.target, None)

    def check(self) -> set[str] | None:
        return set(self.held) if self.settings.checkable else None


class RecordingCaller(RecordingResponder):
    """The same, as a responder that tells someone (a webhook's kind)."""

    id: ClassVar[str] = "recording_call"
    kind: ClassVar[ActionKind] = ActionKind.CALL


def install(monkeypatch: pytest.MonkeyPatch) -> type[RecordingResponder]:
    """Register the recording responders as types `recording` and `recording_call`, with
    empty state, for the duration of one test."""
    monkeypatch.setitem(RESPONDERS, RecordingResponder.id, RecordingResponder)
    monkeypatch.setitem(RESPONDERS, RecordingCaller.id, RecordingCaller)
    monkeypatch.setattr(RecordingResponder, "held", {})
    monkeypatch.setattr(RecordingResponder, "calls", [])
    return RecordingResponder
