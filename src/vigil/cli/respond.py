"""Response commands: `vigil ban`, `unban`, `bans`, `actions list|approve|revert|reconcile`,
`audit`, and the actions table of `vigil analyze --respond`.

Dry-run is the default everywhere: a command plans unless `--apply` is given or
`respond.mode: enforce` is configured. Undoing (unban, revert, expiry) is never held
back by dry-run: it only ever lifts what vigil itself put in force.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.common import handles_errors, state, stdout
from vigil.clock import SystemClock
from vigil.errors import ResponderError, UsageError

# The engine, the notifier, the action model and rich are imported by the functions that
# use them: this module is imported by every `vigil` command (see vigil.cli.common).
if TYPE_CHECKING:
    from rich.console import Console

    from vigil.alerts.model import Alert
    from vigil.notify.notifier import DeliveryReport
    from vigil.respond.engine import ResponseEngine
    from vigil.respond.model import Action, ActionState
    from vigil.store.db import StateDB

actions_app = typer.Typer(help="List, approve and revert response actions.", no_args_is_help=True)

ApplyOption = Annotated[
    bool, typer.Option("--apply", help="Enforce: run the responder (default: dry-run).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
STATE_STYLE = {
    "applied": "red",
    "planned": "cyan",
    "pending": "yellow",
    "failed": "bold red",
    "refused": "magenta",
}


def engine(apply: bool = False) -> ResponseEngine:
    from vigil.respond.engine import ResponseEngine  # noqa: PLC0415
    from vigil.store.db import StateDB  # noqa: PLC0415

    db = StateDB.in_state_dir(state.state_dir)
    return ResponseEngine.from_config(
        state.config, db, SystemClock(), enforce=True if apply else None
    )


def ban(
    address: Annotated[str, typer.Argument(help="Address or CIDR prefix to block.")],
    ttl: Annotated[str, typer.Option("--ttl", help="How long, e.g. 30m, 1h, 7d.")] = "1h",
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit.")] = None,
    responder: Annotated[
        str | None,
        typer.Option("--responder", help="Responder name (default: the first that blocks)."),
    ] = None,
    apply: ApplyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Block an address (the allowlist holds for operators too)."""
    from vigil.respond.policy import operator_actor  # noqa: PLC0415

    span = _duration(ttl)
    eng = engine(apply)
    eng.expire()
    action = eng.ban(address, ttl=span, actor=operator_actor(), reason=reason, responder=responder)
    _print_one(action, eng.mode, as_json)
    raise_if_failed([action])


def unban(
    address: Annotated[str, typer.Argument(help="Address or CIDR prefix to unblock.")],
    as_json: JsonOption = False,
) -> None:
    """Lift every live block of an address, whichever responder holds it."""
    from vigil.respond.policy import operator_actor  # noqa: PLC0415

    eng = engine()
    eng.expire()
    done = eng.unban(address, operator_actor())
    if as_json:
        _write([a.to_json() for a in done])
        return
    from rich.markup import escape  # noqa: PLC0415

    console = _console()
    if not done:
        console.print(f"no live block holds {escape(address)}")
    for action in done:
        console.print(f"reverted {action.id}: {escape(action.target)} on {action.responder}")


def bans(
    as_json: JsonOption = False,
) -> None:
    """The blocks that hold now (applied), will hold (planned, dry-run) or wait (pending)."""
    eng = engine()
    from vigil.respond.model import LIVE_STATES, ActionKind  # noqa: PLC0415

    live = eng.records.select(states=LIVE_STATES, kind=ActionKind.BLOCK)
    if as_json:
        _write([a.to_json() for a in live])
        return
    render_actions([a.to_json() for a in live], _console(), title=f"Bans ({len(live)})")


@actions_app.command("list")
@handles_errors
def list_actions(
    states: Annotated[
        list[str] | None, typer.Option("--state", help="Only this state (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Action records, newest first: planned, pending, applied, failed, refused, ended."""
    wanted = [_state(s) for s in states] if states else None
    found = engine().records.select(states=wanted, limit=limit)
    if as_json:
        _write([a.to_json() for a in found])
        return
    render_actions([a.to_json() for a in found], _console(), title=f"Actions ({len(found)})")


@actions_app.command("approve")
@handles_errors
def approve(
    action_id: Annotated[str, typer.Argument(help="Id of a pending action.")],
    apply: ApplyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Approve a pending action: it is applied (with --apply or mode enforce) or planned."""
    from vigil.respond.policy import operator_actor  # noqa: PLC0415

    eng = engine(apply)
    action = eng.approve(action_id, operator_actor())
    _print_one(action, eng.mode, as_json)
    raise_if_failed([action])


@actions_app.command("revert")
@handles_errors
def revert(
    action_id: Annotated[str, typer.Argument(help="Id of a live action.")],
    as_json: JsonOption = False,
) -> None:
    """Undo a planned, pending or applied action."""
    from vigil.respond.policy import operator_actor  # noqa: PLC0415

    eng = engine()
    action = eng.revert(action_id, operator_actor())
    _print_one(action, eng.mode, as_json)


@actions_app.command("reconcile")
@handles_errors
def reconcile(
    apply: Annotated[
        bool, typer.Option("--apply", help="Required: reconcile changes the firewall.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare the firewalls with the records: re-apply lost bans, remove strays."""
    eng = engine(apply)
    if not eng.enforce:
        raise UsageError("reconcile changes the firewall: add --apply (or respond.mode: enforce)")
    drift = eng.reconcile()
    if as_json:
        _write([d.to_json() for d in drift])
        return
    from rich.markup import escape  # noqa: PLC0415

    console = _console()
    if not drift:
        console.print("[green]no drift[/]: the backends hold what the records say")
    for d in drift:
        fix = "fixed" if d.fixed else f"[red]not fixed[/]: {escape(d.error or '')}"
        console.print(f"{d.responder}: {escape(d.target)} {d.kind} - {fix}", soft_wrap=True)


def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N entries.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The audit trail of every response decision, oldest first."""
    entries = engine().audit.entries(limit=limit)
    if as_json:
        _write([e.to_json() for e in entries])
        return
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"Audit (last {len(entries)})", title_justify="left")
    for col in ("at (UTC)", "actor", "event", "target", "action", "detail"):
        table.add_column(col, overflow="fold")
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(e.actor),
            e.event,
            escape(e.target or ""),
            e.action_id or "",
            escape(detail),
        )
    _console().print(table)


def register(app: typer.Typer) -> None:
    """Add the response commands to the `vigil` command."""
    app.command("ban")(handles_errors(ban))
    app.command("unban")(handles_errors(unban))
    app.command("bans")(handles_errors(bans))
    app.command("audit")(handles_errors(audit))
    app.add_typer(actions_app, name="actions")


def render_actions(actions: list[dict[str, Any]], console: Console, title: str = "") -> None:
    """The actions table (also of `vigil analyze --respond`)."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from vigil.config.durations import format_duration  # noqa: PLC0415

    table = Table(title=title or f"Actions ({len(actions)})", title_justify="left")
    for col in ("id", "state", "responder", "target", "ttl", "expires (UTC)", "why", "note"):
        table.add_column(col, overflow="fold")
    for a in actions:
        style = STATE_STYLE.get(a["state"], "")
        ttl = format_duration(timedelta(seconds=a["ttl"])) if a["ttl"] is not None else ""
        expires = (a.get("expires_at") or "").replace("T", " ").removesuffix("Z")[:19]
        table.add_row(
            a["id"],
            f"[{style}]{a['state']}[/]" if style else a["state"],
            escape(a["responder"]),
            escape(a["target"]),
            ttl,
            expires,
            escape(a.get("rule_name") or a.get("reason") or a.get("actor") or ""),
            escape(a.get("last_error") or ""),
        )
    if actions:
        console.print(table)
    else:
        console.print("No actions")


def failed_message(actions: Iterable[Action]) -> str | None:
    """The one-line error of a run whose actions failed, or None."""
    from vigil.respond.model import ActionState  # noqa: PLC0415

    failed = [a for a in actions if a.state is ActionState.FAILED]
    if not failed:
        return None
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    where = f"{first.target} on {first.responder}"
    return f"{len(failed)} action(s) failed: {where}: {first.last_error}{more}"


def raise_if_failed(actions: Iterable[Action]) -> None:
    message = failed_message(actions)
    if message is not None:
        raise ResponderError(message)


def _print_one(action: Action, mode: str, as_json: bool) -> None:
    if as_json:
        _write(action.to_json())
        return
    from vigil.respond.model import ActionState  # noqa: PLC0415

    render_actions([action.to_json()], _console(), title=f"Action ({mode})")
    if action.state is ActionState.PLANNED and mode == "dry-run":
        _console().print("dry-run: nothing ran; add --apply (or respond.mode: enforce) to enforce")


def _duration(text: str) -> timedelta:
    from vigil.config.durations import parse_duration  # noqa: PLC0415

    try:
        span = parse_duration(text)
    except ValueError as e:
        raise UsageError(f"--ttl: {e}") from None
    if span <= timedelta(0):
        raise UsageError("--ttl must be longer than 0 s")
    return span


def _state(text: str) -> ActionState:
    from vigil.respond.model import ActionState  # noqa: PLC0415

    try:
        return ActionState(text)
    except ValueError:
        known = ", ".join(s.value for s in ActionState)
        raise UsageError(f"--state {text!r} is not one of: {known}") from None


def _write(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=str) + "\n")


def _console() -> Console:
    return stdout()


def respond_to_run(alerts: Iterable[Alert], db: StateDB, *, apply: bool) -> list[Action]:
    """`vigil analyze --respond`: overdue actions expire, then the run's alerts are
    answered by the policy (already answered ones keep their records)."""
    from vigil.respond.engine import ResponseEngine  # noqa: PLC0415

    eng = ResponseEngine.from_config(
        state.config, db, SystemClock(), enforce=True if apply else None
    )
    eng.expire()
    return eng.respond(alerts).actions


def notify_run(
    alerts: Iterable[Alert], actions: Iterable[Action], db: StateDB
) -> DeliveryReport | None:
    """`vigil analyze` with `notify.channels`: queue the run's alerts (with what was done
    about them) and deliver, closing open digests since the input is over. None when no
    channel is configured. An alert queued by an earlier run is not queued again."""
    if not state.config.notify.channels:
        return None
    # Only now: apprise and jinja2 take ~0.2 s to import.
    from vigil.notify.notifier import Notifier  # noqa: PLC0415

    notifier = Notifier(state.config.notify, db, SystemClock())
    notifier.alerts(alerts, actions)
    return notifier.flush()


def delivery_warnings(report: DeliveryReport | None) -> list[str]:
    """One line per channel that could not be reached; its messages stay in the outbox."""
    if report is None:
        return []
    return [
        f"notification to {channel} failed: {error} (kept in the outbox, retried later)"
        for channel, error in sorted(report.errors.items())
    ]
