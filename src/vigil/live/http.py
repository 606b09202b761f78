"""`/metrics` (Prometheus) and `/healthz` of the live monitor, served by the standard
library on a thread; on loopback by default, read-only, no other path."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vigil.errors import ConfigError
from vigil.live.metrics import Metrics

log = logging.getLogger("vigil.live")

Health = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsServer:
    def __init__(self, host: str, port: int, metrics: Metrics, health: Health) -> None:
        self.metrics = metrics
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body = outer.metrics.render().encode()
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
                elif path == "/healthz":
                    ok, detail = outer.health()
                    body = json.dumps({"status": "ok" if ok else "failing", **detail}).encode()
                    self._send(200 if ok else 503, "application/json", body)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise ConfigError(
                f"live.metrics: cannot listen on {host}:{port}: {e.strerror or e}"
            ) from e
        self._server.daemon_threads = True
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="vigil-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
