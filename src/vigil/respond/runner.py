"""Where a responder's commands run: here, in a network namespace, or on a remote host.

Commands are argument lists built from validated values; nothing here ever passes a
string to a shell.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Protocol

from vigil.errors import ResponderError


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def run(self, argv: list[str], stdin: str | None = None, *, check: bool = True) -> Completed:
        """Run argv; with `check`, a non-zero exit raises ResponderError naming the
        command and its stderr."""
        ...


class LocalRunner:
    """Runs on this host, optionally inside a named network namespace (`ip netns exec`)."""

    def __init__(self, netns: str | None = None, timeout: float = 10.0) -> None:
        self.netns = netns
        self.timeout = timeout

    def run(self, argv: list[str], stdin: str | None = None, *, check: bool = True) -> Completed:
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        try:
            # An argument list, never a shell.
            proc = subprocess.run(
                full,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as e:
            raise ResponderError(f"{argv[0]} is not installed ({e.filename} not found)") from e
        except subprocess.TimeoutExpired as e:
            raise ResponderError(f"{argv[0]} did not answer within {self.timeout:g} s") from e
        done = Completed(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise ResponderError(
                f"{' '.join(argv[:3])} failed (exit {proc.returncode}): {one_line(proc.stderr)}"
            )
        return done


def one_line(stderr: str, limit: int = 300) -> str:
    """A tool's error output as one line: every line kept (nft puts its caret marker
    last, the message before it), whitespace folded, bounded."""
    text = " ".join(stderr.split())
    if not text:
        return "no message"
    return text if len(text) <= limit else text[: limit - 1] + "…"
