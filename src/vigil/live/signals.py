"""Signals of the live monitor. A handler only raises a flag; the run loop acts on it
between batches, so a batch is never cut in two.

    SIGTERM, SIGINT   finish the batches read so far, commit the checkpoints, exit 0
    SIGHUP            reload vigil.yaml and the rules; an invalid new configuration is
                      reported and the running one stays
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType


class Flags:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.stopped_by: str | None = None

    def request_stop(self, why: str) -> None:
        self.stopped_by = self.stopped_by or why
        self.stop.set()


Handler = Callable[[int, FrameType | None], object] | int | None


def install(flags: Flags) -> Callable[[], None]:
    """Install the handlers (main thread only); returns what puts the old ones back."""
    previous: dict[signal.Signals, Handler] = {}

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        flags.request_stop(signal.Signals(signum).name)

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        flags.reload.set()

    for sig, handler in (
        (signal.SIGTERM, on_stop),
        (signal.SIGINT, on_stop),
        (signal.SIGHUP, on_hup),
    ):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
