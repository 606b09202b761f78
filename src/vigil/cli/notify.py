"""`vigil notify test|outbox|flush`: try a channel, look into the outbox, send what waits."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.common import handles_errors, state, stdout
from vigil.clock import SystemClock
from vigil.errors import ResponderError

# The notifier (apprise, jinja2) and rich are imported by the commands: this module is
# imported by every `vigil` command (see vigil.cli.common).
if TYPE_CHECKING:
    from rich.console import Console

    from vigil.notify.notifier import DeliveryReport, Notifier
    from vigil.store.db import StateDB

notify_app = typer.Typer(
    help="Notification channels: send a test, show or deliver the outbox.",
    no_args_is_help=True,
)


def _notifier() -> tuple[Notifier, StateDB]:
    from vigil.notify.notifier import Notifier  # noqa: PLC0415
    from vigil.store.db import StateDB  # noqa: PLC0415

    db = StateDB.in_state_dir(state.state_dir)
    return Notifier(state.config.notify, db, SystemClock()), db


def _console() -> Console:
    # Long errors (a receiver's answer) stay on one line.
    return stdout(160)


@notify_app.command("test")
@handles_errors
def test_cmd(
    channel: Annotated[str, typer.Argument(help="A channel name under notify.channels.")],
) -> None:
    """Send a made-up alert to CHANNEL now (not through the outbox); exit 69 when the
    receiver does not take it."""
    notifier, db = _notifier()
    try:
        subject, result = notifier.test(channel)
    finally:
        db.close()
    if not result.ok:
        raise ResponderError(f"channel {channel}: test message not delivered: {result.error}")
    _console().print(f"sent to channel {channel}: {subject}", markup=False, soft_wrap=True)


@notify_app.command("outbox")
@handles_errors
def outbox_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include sent messages (newest 200).")
    ] = False,
) -> None:
    """Messages waiting to be sent or given up, and alerts waiting in open digests."""
    from vigil.notify.outbox import FAILED, QUEUED, SENDING, STATES  # noqa: PLC0415

    notifier, db = _notifier()
    try:
        states = STATES if show_all else (QUEUED, SENDING, FAILED)
        messages = notifier.outbox.messages(states)
        digests = notifier.digests.open_digests()
        counts = notifier.outbox.counts()
    finally:
        db.close()
    if as_json:
        doc = {
            "messages": [m.to_json() for m in messages],
            "counts": counts,
            "digests": {
                ch: {"waiting": n, "since": oldest.isoformat().replace("+00:00", "Z")}
                for ch, (oldest, n) in sorted(digests.items())
            },
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from rich.table import Table  # noqa: PLC0415

    console = _console()
    table = Table(title=f"Outbox ({_summary(counts)})", title_justify="left")
    state_style = {QUEUED: "yellow", SENDING: "cyan", FAILED: "red", "sent": "green"}
    for col in ("id", "channel", "kind", "state", "tries", "next try (UTC)", "subject", "error"):
        table.add_column(col, overflow="fold")
    for m in messages:
        style = state_style.get(m.state, "")
        next_try = m.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if m.state == QUEUED else ""
        table.add_row(
            str(m.id),
            m.channel,
            m.kind,
            f"[{style}]{m.state}[/]",
            str(m.attempts),
            next_try,
            m.subject,
            m.last_error or "",
        )
    console.print(table)
    for ch, (oldest, n) in sorted(digests.items()):
        since = oldest.strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"digest {ch}: {n} alert(s) waiting since {since} UTC", markup=False)


@notify_app.command("flush")
@handles_errors
def flush_cmd(
    now: Annotated[
        bool,
        typer.Option("--now", help="Also close open digests and skip the retry waits."),
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Queue given-up messages again first.")
    ] = False,
) -> None:
    """Deliver what is due: digests whose period is over, messages whose retry time came.
    Exit 69 when a channel could not be reached (its messages stay queued)."""
    notifier, db = _notifier()
    try:
        requeued = notifier.outbox.retry_failed() if retry_failed else 0
        report = notifier.flush(ignore_backoff=True) if now else notifier.deliver_due()
    finally:
        db.close()
    _print_report(report, requeued)
    if report.errors:
        channels = ", ".join(sorted(report.errors))
        raise ResponderError(f"could not deliver to {channels}; see `vigil notify outbox`")


def _print_report(report: DeliveryReport, requeued: int) -> None:
    console = _console()
    again = f"{requeued} given-up message(s) queued again; " if requeued else ""
    console.print(
        f"{again}sent {report.sent}, waiting for a retry {report.retrying}, "
        f"given up {report.failed}, alerts in open digests {report.waiting}",
        markup=False,
    )
    for channel, error in sorted(report.errors.items()):
        console.print(f"  {channel}: {error}", markup=False, soft_wrap=True)


def _summary(counts: dict[str, int]) -> str:
    from vigil.notify.outbox import STATES  # noqa: PLC0415

    return ", ".join(f"{counts.get(s, 0)} {s}" for s in STATES)
