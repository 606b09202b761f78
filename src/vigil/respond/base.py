"""The responder contract. A responder acts on one validated target at a time and can
say what its backend holds now, so vigil can reconcile its records with reality.

Every responder module declares `id` (its `type:` in vigil.yaml), `kind`, a pydantic
`Settings` model, and is listed in `respond.registry.RESPONDERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pydantic import BaseModel

from vigil.clock import Clock, SystemClock
from vigil.respond.model import Action, ActionKind


@dataclass(frozen=True)
class ResponderContext:
    """What a responder may need from the running vigil."""

    clock: Clock = field(default_factory=SystemClock)


class Responder(Protocol):
    id: ClassVar[str]
    kind: ClassVar[ActionKind]
    Settings: ClassVar[type[BaseModel]]

    def act(self, action: Action) -> None:
        """Put the action in force; idempotent (acting twice holds it once).
        Raises ResponderError with a one-line reason when the backend refuses."""
        ...

    def revert(self, action: Action) -> None:
        """Undo it; undoing what is not (or no longer) in force is not an error."""
        ...

    def check(self) -> set[str] | None:
        """The targets the backend holds now (canonical form, as Action.target), or None
        when the backend cannot be asked (a webhook)."""
        ...


class ResponderFactory(Protocol):
    # Read-only properties, not ClassVars: mypy never matches a class object against
    # ClassVar protocol members, so no responder class could be registered.
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> ActionKind: ...
    @property
    def Settings(self) -> type[BaseModel]: ...

    def __call__(self, settings: BaseModel, context: ResponderContext) -> Responder: ...
