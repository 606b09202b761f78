"""What `vigil status` shows: the daemon's last status snapshot (written to the state
database every few seconds), whether its /healthz answers, its checkpoints, and the
most recent alerts.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.live.checkpoints import CheckpointStore
from vigil.live.metrics import Metrics
from vigil.store.alerts import AlertRepository
from vigil.store.db import StateDB

if TYPE_CHECKING:
    from vigil.live.generation import Generation
    from vigil.live.http import MetricsServer

STATUS_KEY = "status"
PROBE_TIMEOUT = 1.0


@dataclass
class Snapshot:
    """Builds the status document; events/s is measured between two snapshots."""

    pid: int
    started_at: datetime
    config: str
    _last_at: float = field(default=0.0, init=False)
    _last_events: dict[str, float] = field(default_factory=dict, init=False)

    def due(self, every: float) -> bool:
        return time.monotonic() - self._last_at >= every

    def build(
        self,
        gen: Generation,
        metrics: Metrics,
        now: datetime,
        server: MetricsServer | None,
        *,
        stopped: bool = False,
    ) -> str:
        mono = time.monotonic()
        span = mono - self._last_at if self._last_at else None
        sources = []
        for name, source in gen.sources.items():
            stats = source.stats()
            events = metrics.value("vigil_events_total", source=name)
            rate = None
            if span:
                rate = round((events - self._last_events.get(name, 0.0)) / span, 1)
            self._last_events[name] = events
            sources.append(
                {
                    "name": name,
                    "kind": stats.kind,
                    "lines": stats.lines,
                    "events": int(events),
                    # What the source refused (overlong lines) and what the parser did.
                    "rejected": int(metrics.total("vigil_rejects_total", source=name)),
                    "dropped": stats.dropped,
                    "events_per_second": rate,
                    "lag_seconds": metrics.value("vigil_source_lag_seconds", source=name),
                    "last_received": stats.last_received.isoformat()
                    if stats.last_received
                    else None,
                    "detail": stats.detail,
                }
            )
        self._last_at = mono
        doc = {
            "pid": self.pid,
            "state": "stopped" if stopped else "running",
            "started_at": self.started_at.isoformat(),
            "updated_at": now.isoformat(),
            "config": self.config,
            "mode": gen.engine.mode,
            "metrics": f"{server.address[0]}:{server.address[1]}" if server else None,
            "alerts": int(metrics.total("vigil_alerts_total")),
            "actions": int(metrics.total("vigil_actions_total")),
            "batches": int(metrics.total("vigil_batches_total")),
            "sources": sources,
        }
        return json.dumps(doc)


def read_status(db: StateDB, *, alerts: int = 10) -> dict[str, Any]:
    """The status document of the state directory's daemon, probed for liveness."""
    store = CheckpointStore(db)
    found = store.get_state(STATUS_KEY)
    doc: dict[str, Any] = json.loads(found[0]) if found else {"state": "never run"}
    if found and doc.get("state") == "running":
        doc["health"] = _probe(doc.get("metrics"))
        if not _alive(doc.get("pid")):
            doc["state"] = "gone (killed or crashed)"
        elif doc["health"] is None and doc.get("metrics"):
            doc["state"] = "not answering"
    doc["checkpoints"] = [
        {
            "source": c.source,
            "path": c.commit.path,
            "offset": c.commit.offset,
            "line": c.commit.line,
            "replay_offset": c.replay.offset if c.replay else None,
            "updated_at": c.updated_at,
        }
        for c in store.all()
    ]
    doc["recent_alerts"] = AlertRepository(db).recent(alerts)
    return doc


def _alive(pid: object) -> bool:
    """Whether the process that wrote the status still runs (on this host)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _probe(address: str | None) -> dict[str, Any] | None:
    if not address:
        return None
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=PROBE_TIMEOUT) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body
    except urllib.error.HTTPError as e:
        failing: dict[str, Any] = json.loads(e.read() or b"{}")
        return failing
    except (OSError, ValueError):
        return None
